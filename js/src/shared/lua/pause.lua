-- pause.lua: admits nothing before a time (a Retry-After, a reset). Pauses only lengthen.
--   KEYS, ARGV[1..4]: see policy.lua
--   ARGV[5]   until, ms since the Unix epoch (the store's clock)
-- Reply: 0 (OK), now (ms), generation (see policy.lua), the gate (ms)
ST.gate = math.max(ST.gate, tonumber(ARGV[5]))
save()
return { 0, NOW, gen_reply(), ST.gate }
