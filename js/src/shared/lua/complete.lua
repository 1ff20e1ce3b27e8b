-- complete.lua: a permit's response arrived; count the request then (and take
-- it out of the in-flight set when requests in flight are counted).
--   KEYS, ARGV[1..4]: see policy.lua
--   ARGV[5]   unused (the permit's id, for logs)
--   ARGV[6]  the permit's time, ms (as admitted, on the store's clock)
--   ARGV[7]  the permit's cost, units
--   ARGV[8]  when the response arrived, ms, or '' for now
-- Reply: 0 (OK), now (ms), generation (see policy.lua)
local id = ARGV[5]
local p_at = tonumber(ARGV[6])
local p_cost = tonumber(ARGV[7])
local now = tick(NOW)
-- A completion stamped after the clock (within the client's tolerance) is read
-- as the clock, as the core's complete_at does: it never moves time forward.
local at = now
if ARGV[8] ~= '' then at = math.min(tonumber(ARGV[8]), now) end
if land(p_at, p_cost) then
  local to = math.max(at, p_at)
  for k = 1, #WIN do win_settle(WIN[k], ST.w[k], to, p_cost) end
elseif COUNT_IN_FLIGHT then
  -- Its lease ended before it completed: it was counted as sent then already.
elseif at > p_at then
  -- Not in flight (not counted so, or its lease ended): restamp as the core does.
  for k = 1, #WIN do win_restamp(WIN[k], ST.w[k], p_at, at, p_cost) end
end
-- A completion stamped long enough ago may have expired already (as in the core).
for k = 1, #WIN do win_advance(WIN[k], ST.w[k], ST.clock, ST.flt) end
save()
return { 0, NOW, gen_reply() }
