-- reconcile.lua: the server reports fewer units left in one window than we
-- count (other clients share it): adopt its view.
--   KEYS, ARGV[1..4]: see policy.lua
--   ARGV[5]   the window, 1-based
--   ARGV[6]  units the server says remain
--   ARGV[7]  when the server's window resets, ms, or '' for a full period from now
-- Reply: 0 (OK), now (ms), generation (see policy.lua), 1 if anything changed else 0
local k = tonumber(ARGV[5])
local remaining = tonumber(ARGV[6])
local now = tick(NOW)
local w = WIN[k]
local until_ms
if ARGV[7] == '' then until_ms = now + w.per else until_ms = tonumber(ARGV[7]) end
if until_ms <= now then
  save()
  return { 0, NOW, gen_reply(), 0 }
end
local server_used = math.max(0, w.limit - remaining)
local changed = win_reconcile(w, ST.w[k], now, server_used, until_ms, ST.flt, ARGV[7] ~= '')
save()
return { 0, NOW, gen_reply(), changed and 1 or 0 }
