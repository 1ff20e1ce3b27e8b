-- cancel.lua: waiters gave up (aborted, or their limiter closed): they leave the queue.
--   KEYS, ARGV[1..4]: see policy.lua
--   ARGV[5..] the tickets' ids
-- Reply: 0 (OK), now (ms), generation (see policy.lua), how many were queued
local gone = {}
for i = 5, #ARGV do gone[ARGV[i]] = true end
tick(NOW)
local removed, i = 0, 1
while i <= #ST.q do
  if gone[ST.q[i].id] then table.remove(ST.q, i); removed = removed + 1 else i = i + 1 end
end
save()
return { 0, NOW, gen_reply(), removed }
