-- usage.lua: each window's use now. It moves the quota's clock like any call
-- (as the core's usage() does), so it writes the state back.
--   KEYS, ARGV[1..4]: see policy.lua
-- Reply: 0 (OK), now (ms), generation (see policy.lua), the gate (ms), units in flight, waiters
--   queued, then per window: units used, when one more unit fits (ms, -1 = never)
local now = tick(NOW)
local out = { 0, NOW, gen_reply(), ST.gate, ST.flt, #ST.q }
for k = 1, #WIN do
  out[#out + 1] = win_used(WIN[k], ST.w[k], now, ST.flt)
  out[#out + 1] = reply_time(win_earliest(WIN[k], ST.w[k], now, 1, ST.flt))
end
save()
return out
