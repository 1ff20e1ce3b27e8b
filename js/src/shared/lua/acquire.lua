-- acquire.lua: admits a request now, or queues it as a waiter and admits the
-- waiters of one process that head the queue and fit.
--   KEYS, ARGV[1..4]: see policy.lua
--   ARGV[5]   mode: 'try' (admit now or say when; never queue), 'queue'
--             (admit now or queue the ticket), 'poll' (renew this process's
--             tickets and admit those heading the queue)
--   try:   ARGV[6..] the costs of one or more decisions of one process,
--          decided in order, each all or nothing, as if they had come one
--          after the other within the same millisecond (a process batches the
--          tryAcquire calls made while its previous call was under way)
--   queue, poll:
--   ARGV[6]  cost, units (1 .. every window's limit; checked by the client)
--   ARGV[7]  the permit's id (also the ticket's id when queued)
--   ARGV[8]  the calling process's owner id
--   ARGV[9]  priority, an integer; higher first
-- Reply: 0 (OK), now (ms), generation (see policy.lua), then
--   try:          per decision, 1 and the permit's time (ms), or 0 and the
--                 retry time (ms, -1 = never)
--   queue, poll:  n, n pairs (ticket id, admitted at ms), then the head's
--                 ticket id, owner and earliest time ('' '' -2 when the queue is
--                 empty), then how many tickets of this owner are queued (a
--                 process that finds fewer than it waits for queues them again:
--                 Redis lost them)
local mode = ARGV[5]

if mode == 'try' then
  -- The same refusal as a moment ago (see remember_refusal): nothing to
  -- compute, nothing moved.
  local same = refused_again()
  if same then
    local out = { 0, NOW, gen_reply() }
    for i = 6, #ARGV do
      out[#out + 1] = 0
      out[#out + 1] = same
    end
    cache(RAW)
    return out
  end
  local now = tick(NOW)
  local out = { 0, NOW, gen_reply() }
  local changed = CREATED or DIRTY or #ST.q > 0
  local retry
  for i = 6, #ARGV do
    local cost = tonumber(ARGV[i])
    if #ST.q > 0 then
      -- Waiters go first: come back no earlier than the head and we both fit.
      local behind = math.max(earliest(ST.q[1].c), earliest(cost))
      out[#out + 1] = 0
      out[#out + 1] = reply_time(math.max(behind, now + 1))
    else
      local at
      at, retry = try_admit(cost)
      if at then
        changed = true
        out[#out + 1] = 1
        out[#out + 1] = at
      else
        out[#out + 1] = 0
        out[#out + 1] = reply_time(retry)
      end
    end
  end
  -- Refusals that changed nothing but the clock are not written back (the
  -- common case of a busy quota): the next call moves the clock from the
  -- stored time to its own and derives the same state. Only the clock
  -- reading is lost, which matters only when callers' clocks disagree
  -- (`time: 'client'`); Redis TIME does not go back. (A library keeps the
  -- state as moved, with the bytes still stored: see cache().)
  if changed then
    save()
  else
    cache(RAW)
    remember_refusal(retry)
  end
  return out
end

local now = tick(NOW)
local cost = tonumber(ARGV[6])
local id = ARGV[7]
local owner = ARGV[8]
local priority = tonumber(ARGV[9])

local admitted = {}
if mode == 'queue' then
  local queued = false
  for i = 1, #ST.q do if ST.q[i].id == id then queued = true end end
  if not queued and #ST.q == 0 and try_admit(cost) then
    admitted = { id, now }
  elseif not queued then
    -- Round robin between processes at equal priority: a process's k-th
    -- waiter is served in the k-th round from now, so 4 processes queueing
    -- 100 each share the quota evenly; within a process, arrival order.
    local round = ST.sr
    for i = 1, #ST.q do
      if ST.q[i].o == owner and ST.q[i].r + 1 > round then round = ST.q[i].r + 1 end
    end
    ST.seq = ST.seq + 1
    local t = { id = id, o = owner, p = priority, r = round, s = ST.seq, c = cost, x = now + QUEUE_LEASE }
    local pos = #ST.q + 1
    for i = 1, #ST.q do
      local q = ST.q[i]
      if q.p < t.p or (q.p == t.p and q.r > t.r) then pos = i; break end
    end
    table.insert(ST.q, pos, t)
    pump(owner, admitted)
  else
    pump(owner, admitted)
  end
else
  for i = 1, #ST.q do
    if ST.q[i].o == owner then ST.q[i].x = now + QUEUE_LEASE end
  end
  pump(owner, admitted)
end

local out = { 0, NOW, gen_reply(), #admitted / 2 }
for i = 1, #admitted do out[#out + 1] = admitted[i] end
head_reply(out)
local mine = 0
for i = 1, #ST.q do if ST.q[i].o == owner then mine = mine + 1 end end
out[#out + 1] = mine
save()
return out
