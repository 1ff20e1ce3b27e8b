-- register.lua: after Redis lost the quota (or it expired), a process counts
-- again what it admitted within the longest window, so the server is not
-- over-run after a restart. Counted no earlier than it happened: a sliding
-- window logs each request at its time, a fixed window counts those in the
-- current bucket, a token bucket is charged in time order, and requests still
-- in flight rejoin the in-flight set with their lease.
--   KEYS, ARGV[1..4]: see policy.lua (ARGV[3] is '': any generation is adopted)
--   ARGV[5]   this batch's id: a batch already counted (its reply was lost and
--             it was sent again) is not counted twice
--   ARGV[6..] 5 per request, in time order: permit id, admitted at (ms),
--             cost (units), completed at (ms, or -1 if still in flight), 1 if it
--             is counted as in flight else 0
-- Reply: 0 (OK), now (ms), the generation now in force
local now = tick(NOW)
ST.reg = ST.reg or {}
for i = 1, #ST.reg do
  if ST.reg[i] == ARGV[5] then return { 0, NOW, gen_reply() } end
end
table.insert(ST.reg, ARGV[5])
if #ST.reg > 32 then table.remove(ST.reg, 1) end
for i = 6, #ARGV, 5 do
  local id, at, c = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local done, tracked = tonumber(ARGV[i + 3]), ARGV[i + 4] == '1'
  local lease_end = at + LEASE
  local flying = tracked and done < 0 and lease_end > now
  local t = at
  if done >= 0 then t = math.max(done, at) elseif tracked then t = lease_end end
  if flying then
    local pos = #ST.fl + 1
    while pos > 1 and ST.fl[pos - 1].at > at do pos = pos - 1 end
    if pos > 1 and ST.fl[pos - 1].at == at then ST.fl[pos - 1].c = ST.fl[pos - 1].c + c
    else table.insert(ST.fl, pos, { at = at, c = c, u = lease_end }) end
    ST.flt = ST.flt + c
  end
  for k = 1, #WIN do
    local w, s = WIN[k], ST.w[k]
    if w.kind == 's' then
      if not flying and t + w.per > now then sl_add(s, t, c) end
    elseif w.kind == 'f' then
      if flying or fx_bucket_start(math.min(t, now), w.per, s.phase) == s.start then s.count = s.count + c end
    elseif not flying then
      -- A bucket keeps units in flight out of its time (counted in flight).
      bk_add(s, math.min(t, now), c, w.limit, w.per)
    end
  end
end
save()
return { 0, NOW, gen_reply() }
