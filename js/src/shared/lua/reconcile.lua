-- reconcile.lua: the server reports fewer units left in one window than we
-- count (other clients share it): adopt its view.
--   KEYS, ARGV[1..8]: see policy.lua
--   ARGV[9]   the window, 1-based
--   ARGV[10]  units the server says remain
--   ARGV[11]  when the server's window resets, ms, or '' for a full period from now
-- Reply: 'OK', now (ms), generation, 1 if anything changed else 0
local k = tonumber(ARGV[9])
local remaining = tonumber(ARGV[10])
local now = tick(NOW)
local w = WIN[k]
local until_ms
if ARGV[11] == '' then until_ms = now + w.per else until_ms = tonumber(ARGV[11]) end
if until_ms <= now then
  save()
  return { 'OK', NOW, ST.gen, 0 }
end
local server_used = math.max(0, w.limit - remaining)
local changed = win_reconcile(w, ST.w[k], now, server_used, until_ms, ST.flt, ARGV[11] ~= '')
save()
return { 'OK', NOW, ST.gen, changed and 1 or 0 }
