-- plan.lua: when each of the next n requests would be admitted if nothing else
-- took from the windows: queued waiters first, requests in flight taken as
-- completed now (read only: the simulation is never written back).
--   KEYS, ARGV[1..4]: see policy.lua
--   ARGV[5]   n, requests (at most 100000)
--   ARGV[6]  cost of each, units
-- Reply: 0 (OK), now (ms), generation (see policy.lua), then n times (ms)
local n = tonumber(ARGV[5])
local cost = tonumber(ARGV[6])
local now = tick(NOW)
local queued = {}
for i = 1, #ST.q do queued[i] = ST.q[i].c end
ST.q = {}
-- Requests in flight are taken as completed at the clock, all together (as the core does).
if ST.flt > 0 then
  for k = 1, #WIN do win_settle(WIN[k], ST.w[k], now, ST.flt) end
end
ST.fl = {}
ST.flt = 0
COUNT_IN_FLIGHT = false
local function admit(c)
  local at = earliest(c)
  tick(at)
  try_admit(c)
  return at
end
for i = 1, #queued do admit(queued[i]) end
-- A state this call made up is not stored: no generation to adopt.
local out = { 0, NOW, CREATED and 0 or gen_reply() }
for i = 1, n do out[#out + 1] = admit(cost) end
return out
