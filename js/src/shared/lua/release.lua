-- release.lua: a permit's request was never sent (cancelled after admission):
-- its units go back, as far as each window can tell they are its own (the
-- core's Limiter::release), at the quota's clock moved to now. (The core
-- releases at the latest time it saw; the stored clock may lag behind it by
-- refusals that were not written back, so it moves to now first: later is
-- never more generous, as a bucket gives back less of what is owed and a
-- fixed window that moved on gives back nothing of an earlier bucket.)
--   KEYS, ARGV[1..4]: see policy.lua
--   ARGV[5]   unused (the permit's id, for logs)
--   ARGV[6]  the permit's time, ms (as admitted, on the store's clock)
--   ARGV[7]  the permit's cost, units
-- Reply: 0 (OK), now (ms), generation (see policy.lua), 1 if it was given back else 0 (counted
--   as in flight, its lease had ended: it counts as sent)
local p_at = tonumber(ARGV[6])
local p_cost = tonumber(ARGV[7])
tick(NOW)
if p_at > ST.clock or (COUNT_IN_FLIGHT and not land(p_at, p_cost)) then
  if CREATED then save() end
  return { 0, NOW, gen_reply(), 0 }
end
for k = 1, #WIN do win_release(WIN[k], ST.w[k], p_at, p_cost, ST.clock, COUNT_IN_FLIGHT) end
save()
return { 0, NOW, gen_reply(), 1 }
