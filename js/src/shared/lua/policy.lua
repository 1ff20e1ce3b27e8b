-- policy.lua: the core's semantics (src/sliding.rs, fixed.rs, bucket.rs,
-- policy.rs, limiter.rs) in Lua. Not a script by itself: js/src/shared/embed-lua.mjs
-- builds from it and the operations (acquire.lua, ...) both
--   - a Redis Functions library (Redis >= 7: FUNCTION LOAD once, FCALL per
--     call): this file runs once, at load, and each operation is a function
--     of the library, so a call pays for the operation alone; and
--   - one script per operation (EVALSHA, where functions are unavailable):
--     this file followed by the operation, all of it run on every call.
-- Either way an operation's body starts with `begin(KEYS, ARGV)` (at the end
-- of this file), which reads the arguments and the quota's state.
--
-- Common KEYS and ARGV of every operation (the op's own ARGV follow):
--   KEYS[1]  the quota's state: `{prefix:hash}:state`, a MessagePack map
--   ARGV[1]  the limiter's configuration, the same on every call (parsed once
--            per library: see parse_config), fields joined by `#`:
--              the windows: `kind:limit:per_ms:offset_ms` joined by `|`
--                (kind s = sliding, f = fixed, b = bucket);
--              the grace after a loss, ms (recovery);
--              count in flight: 1 or 0;
--              lease, ms: an in-flight permit counts as sent at `at + lease`;
--              queue lease, ms: a waiter whose process gave no sign of life
--                for this long leaves the queue
--            (the same for every quota with the same windows and options: the
--            quota's pub/sub channel, announcing the queue's head and losses,
--            is KEYS[1] with `:head` for `:state`)
--   ARGV[2]  now, ms since the Unix epoch (the caller's clock), or '' to read
--            Redis TIME (the default: one clock for every process)
--   ARGV[3]  the generation the caller knows ('' for none yet)
--   ARGV[4]  a fresh generation id, used if this call creates the state
--   ARGV[5+]  the operation's own
-- Replies start with a status (0: OK; 1: the quota was lost, register again;
-- 2: the quota is held with other windows), Redis's time (ms), and the
-- generation in force (0 when it is the one the caller knows). Numbers, not
-- strings, where they can be: each bulk string costs both ends a little.
--
-- Numbers are Lua doubles: every time and count is an integer below 2^53, so
-- all arithmetic here is exact (bucket windows need limit * per_ms <= 2^52,
-- checked by the client). "Never" (only a completion can make room) is
-- math.huge here and -1 in replies.
--
-- Only locals: a library may not create globals, and while it loads it may
-- not even read them (math, string, table, cmsgpack exist only during calls:
-- code outside functions uses none). The per-call locals below are set by
-- begin() on every call (a library keeps them between calls: nothing may
-- carry over, so begin() sets every one).

local INF = 1 / 0
-- The call's key and arguments, its windows (WIN: { kind, limit, per,
-- offset }, read only), and its time.
local KEY, ARGV, SPEC, RECOVERY_MS, WIN, MAX_PER
local COUNT_IN_FLIGHT, LEASE, QUEUE_LEASE, NOW

local function floor_div(a, b)
  -- Exact quotient and remainder of integers a >= 0, b >= 1 below 2^53: a / b
  -- may round up to the next integer, so correct by one either way.
  local q = math.floor(a / b)
  local r = a - q * b
  if r < 0 then q = q - 1; r = r + b elseif r >= b then q = q + 1; r = r - b end
  return q, r
end

local function ceil_div(a, b)
  local q, r = floor_div(a, b)
  if r > 0 then q = q + 1 end
  return q
end

-- Configurations (ARGV[1]), parsed once each: a library keeps them between
-- calls (a script parses its one on every call). Bounded: a Redis serving
-- many configurations parses again now and then.
local PARSED, PARSED_N = {}, 0
local function parse_config(arg)
  local spec, recovery, in_flight, lease, queue_lease = string.match(arg, '^([^#]*)#(%d+)#([01])#(%d+)#(%d+)$')
  local win, max_per = {}, 0
  for part in string.gmatch(spec, '[^|]+') do
    local k, l, p, o = string.match(part, '^(%a):(%d+):(%d+):(%d+)$')
    local w = { kind = k, limit = tonumber(l), per = tonumber(p), offset = tonumber(o) }
    win[#win + 1] = w
    if w.per > max_per then max_per = w.per end
  end
  if PARSED_N >= 64 then PARSED, PARSED_N = {}, 0 end
  local parsed = {
    spec = spec, recovery = tonumber(recovery), win = win, max_per = max_per,
    in_flight = in_flight == '1', lease = tonumber(lease), queue_lease = tonumber(queue_lease),
  }
  PARSED[arg] = parsed
  PARSED_N = PARSED_N + 1
  return parsed
end

---------------------------------------------------------------- sliding
-- A log of (at, cost), sorted by at: parallel arrays la, lc; `used` their sum.

local function sl_advance(s, now, per)
  while #s.la > 0 and s.la[1] + per <= now do
    s.used = s.used - s.lc[1]
    table.remove(s.la, 1)
    table.remove(s.lc, 1)
  end
end

local function sl_earliest(s, now, cost, limit, per, in_flight)
  local total = s.used + in_flight + cost
  if total <= limit then return now end
  local need = total - limit
  local freed = 0
  for i = 1, #s.la do
    freed = freed + s.lc[i]
    if freed >= need then return math.max(s.la[i] + per, now) end
  end
  return INF
end

-- First index whose at is > at_ms (partition point of `e.at <= at_ms`).
local function sl_after(s, at_ms)
  local lo, hi = 1, #s.la + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if s.la[mid] <= at_ms then lo = mid + 1 else hi = mid end
  end
  return lo
end

-- First index whose at is >= at_ms.
local function sl_from(s, at_ms)
  local lo, hi = 1, #s.la + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if s.la[mid] < at_ms then lo = mid + 1 else hi = mid end
  end
  return lo
end

local function sl_add(s, at_ms, cost)
  s.used = s.used + cost
  local n = #s.la
  local idx = n + 1
  if n > 0 and s.la[n] > at_ms then idx = sl_after(s, at_ms) end
  if idx > 1 and s.la[idx - 1] == at_ms then
    s.lc[idx - 1] = s.lc[idx - 1] + cost
  else
    table.insert(s.la, idx, at_ms)
    table.insert(s.lc, idx, cost)
  end
end

-- Takes up to `cost` units logged at exactly `at_ms` out of the log (a permit
-- released unused); units already expired or moved stay as they are.
local function sl_remove(s, at_ms, cost)
  local idx = sl_from(s, at_ms)
  if idx <= #s.la and s.la[idx] == at_ms then
    local taken = math.min(s.lc[idx], cost)
    s.lc[idx] = s.lc[idx] - taken
    s.used = s.used - taken
    if s.lc[idx] == 0 then table.remove(s.la, idx); table.remove(s.lc, idx) end
  end
end

local function sl_compact(s)
  local la, lc = {}, {}
  for i = 1, #s.la do
    if s.lc[i] > 0 then la[#la + 1] = s.la[i]; lc[#lc + 1] = s.lc[i] end
  end
  s.la, s.lc = la, lc
end

local function sl_hold(s, at_ms, units)
  local older = sl_from(s, at_ms) - 1
  local lasting = 0
  for i = older + 1, #s.la do lasting = lasting + s.lc[i] end
  local missing = math.max(0, units - lasting)
  local moved = 0
  local i = older
  while missing > 0 and i > 0 do
    local take = math.min(s.lc[i], missing)
    s.lc[i] = s.lc[i] - take
    missing = missing - take
    moved = moved + take
    i = i - 1
  end
  if moved == 0 then return false end
  sl_compact(s)
  s.used = s.used - moved
  sl_add(s, at_ms, moved)
  return true
end

local function sl_restamp(s, from_ms, to_ms, cost)
  local idx = sl_from(s, from_ms)
  if idx <= #s.la and s.la[idx] == from_ms then
    local moved = math.min(s.lc[idx], cost)
    s.lc[idx] = s.lc[idx] - moved
    s.used = s.used - moved
    if s.lc[idx] == 0 then table.remove(s.la, idx); table.remove(s.lc, idx) end
  end
  sl_add(s, to_ms, cost)
end

---------------------------------------------------------------- fixed
-- start, count, cu (carry units), cuntil (carry until), phase, guard, spill.

local function fx_bucket_start(at_ms, per, phase)
  -- Euclidean remainder of (at - phase) by per; at - phase may be negative.
  local d = at_ms - phase
  local q = math.floor(d / per)
  local r = d - q * per
  if r < 0 then r = r + per elseif r >= per then r = r - per end
  return at_ms - r
end

local function fx_new(w)
  local phase = w.offset % w.per
  return { start = fx_bucket_start(0, w.per, phase), count = 0, cu = 0, cuntil = 0, phase = phase, guard = 0, spill = 0 }
end

local function fx_carried(f, start)
  if start < f.cuntil then return f.cu end
  return 0
end

-- Set when moving the clock changed more than a recomputation at a later time
-- would (see acquire.lua's refusals, which then need not write the state back).
local DIRTY

local function fx_advance(f, now, per, in_flight)
  local start = fx_bucket_start(now, per, f.phase)
  if start > f.start then
    DIRTY = true
    local spill = 0
    if start == f.start + per then spill = f.spill end
    f.start = start
    f.count = math.max(fx_carried(f, start), spill) + in_flight
    f.spill = 0
  end
end

local function fx_earliest(f, now, cost, limit, per, in_flight)
  if f.count + cost <= limit then return now end
  local nxt = f.start + per
  if math.max(fx_carried(f, nxt), f.spill) + in_flight + cost <= limit then return nxt end
  if in_flight + cost > limit then return INF end
  local after = nxt + per
  if fx_carried(f, after) + in_flight + cost <= limit then return after end
  local steps = math.max(0, math.floor((f.cuntil - after + per - 1) / per))
  return after + steps * per
end

local function fx_add(f, at_ms, cost, per)
  f.count = f.count + cost
  if f.guard > 0 and at_ms >= f.start + per - f.guard then f.spill = f.spill + cost end
  if at_ms < f.cuntil then f.cu = f.cu + cost end
end

local function fx_restamp(f, from_ms, to_ms, cost, per)
  local to_start = fx_bucket_start(to_ms, per, f.phase)
  if fx_bucket_start(from_ms, per, f.phase) == to_start or to_start < f.start then return end
  if to_start > f.start then
    f.start = to_start
    f.count = fx_carried(f, to_start)
  end
  f.count = f.count + cost
end

-- The server says its window ends at `until_ms` (its reset): its buckets have
-- their boundaries there, so ours move there too (the core's Fixed::adopt_reset).
-- What was counted stays in the bucket now current. Whether the phase moved.
local function fx_adopt_reset(f, now, until_ms, per)
  local phase = until_ms % per
  if phase == f.phase then return false end
  local old_end = f.start + per
  -- A carry that has ended must not come back in a bucket now starting earlier.
  if f.cuntil <= now then f.cu = 0; f.cuntil = 0 end
  f.phase = phase
  f.start = fx_bucket_start(now, per, phase)
  -- Later buckets never hold more than the current one.
  f.count = math.max(f.count, fx_carried(f, f.start))
  -- A bucket that now ends sooner: what we counted may still reach the server
  -- after that end, so it counts in the next bucket too.
  if f.start + per < old_end then f.spill = f.count end
  return true
end

local function fx_reconcile(f, server_used, until_ms, per)
  f.count = math.max(f.count, server_used)
  local nxt = f.start + per
  if until_ms > nxt then
    if f.cuntil <= f.start then f.cu = 0 end
    f.cu = math.max(f.cu, server_used)
    f.cuntil = math.max(f.cuntil, until_ms)
  end
end

---------------------------------------------------------------- bucket
-- GCRA in exact integers. The theoretical arrival time, in 1/limit ms, is
-- tm * limit + tf with 0 <= tf < limit (so it never needs more than 53 bits).

local function bk_debt(b, now, limit)
  -- tat - now * limit, or 0 when negative.
  if b.tm < now then return 0 end
  return (b.tm - now) * limit + b.tf
end

-- Units spent and not yet refilled, rounded up, plus the units in flight
-- (which are kept out of the bucket's time until they complete).
local function bk_used(b, now, limit, per, in_flight)
  return ceil_div(bk_debt(b, now, limit), per) + in_flight
end

local bk_add
-- Units in flight may reach the server at any moment until their response
-- arrives: they count as taken now, every time this is asked, and only their
-- completion can make room for more than limit - in_flight (INF).
local function bk_earliest(b, now, cost, limit, per, in_flight)
  if in_flight > 0 then
    if in_flight + cost > limit then return INF end
    local counted = { tm = b.tm, tf = b.tf }
    bk_add(counted, now, in_flight, limit, per)
    return bk_earliest(counted, now, cost, limit, per, 0)
  end
  local d = bk_debt(b, now, limit)
  local over = d + cost * per - limit * per
  if over <= 0 then return now end
  return now + ceil_div(over, limit)
end

-- tat = max(tat, at * limit + cost * per)
local function bk_floor(b, at_ms, cost, limit, per)
  local q, r = floor_div(cost * per, limit)
  local fm, ff = at_ms + q, r
  if fm > b.tm or (fm == b.tm and ff > b.tf) then b.tm = fm; b.tf = ff end
end

bk_add = function(b, at_ms, cost, limit, per)
  if b.tm < at_ms then b.tm = at_ms; b.tf = 0 end
  local q, r = floor_div(cost * per, limit)
  b.tm = b.tm + q
  b.tf = b.tf + r
  if b.tf >= limit then b.tf = b.tf - limit; b.tm = b.tm + 1 end
end

-- Gives back what is still owed of `cost` units taken at `at_ms` <= now (the
-- core's Bucket::unadd): they were owed until at * limit + cost * per at the
-- latest; if that has passed nothing comes back, else at most what is left, so
-- the bucket never holds more than if they were never taken.
local function bk_unadd(b, at_ms, cost, now, limit, per)
  local q, r = floor_div(cost * per, limit)
  -- back = owed_until - now * limit, in (ms, 1/limit ms); nothing if <= 0.
  local back_m, back_f = at_ms + q - now, r
  if back_m < 0 or (back_m == 0 and back_f == 0) then return end
  -- tat - back, but never below min(now * limit, tat).
  local m, f = b.tm - back_m, b.tf - back_f
  if f < 0 then f = f + limit; m = m - 1 end
  local lm, lf = now, 0
  if b.tm < now then lm, lf = b.tm, b.tf end
  if m < lm or (m == lm and f < lf) then m, f = lm, lf end
  if m < 0 then m, f = 0, 0 end
  b.tm, b.tf = m, f
end

---------------------------------------------------------------- windows

local function win_new(w)
  if w.kind == 's' then return { la = {}, lc = {}, used = 0 } end
  if w.kind == 'f' then return fx_new(w) end
  return { tm = 0, tf = 0 }
end

-- Keeps every count within the limit (the core's Window::cap): units beyond
-- it must all expire before any cost fits, so the oldest go first.
local function win_cap(w, s)
  if w.kind == 's' then
    while s.used > w.limit and #s.la > 0 do
      local excess = s.used - w.limit
      if s.lc[1] > excess then
        s.lc[1] = s.lc[1] - excess
        s.used = w.limit
      else
        s.used = s.used - s.lc[1]
        table.remove(s.la, 1)
        table.remove(s.lc, 1)
      end
    end
  elseif w.kind == 'f' then
    s.count = math.min(s.count, w.limit)
    s.cu = math.min(s.cu, w.limit)
    s.spill = math.min(s.spill, s.count)
  end
end

local function win_advance(w, s, now, in_flight)
  if w.kind == 's' then sl_advance(s, now, w.per)
  elseif w.kind == 'f' then fx_advance(s, now, w.per, in_flight) end
  win_cap(w, s)
end

local function win_used(w, s, now, in_flight)
  if w.kind == 's' then return s.used + in_flight end
  if w.kind == 'f' then return s.count end
  return bk_used(s, now, w.limit, w.per, in_flight)
end

local function win_earliest(w, s, now, cost, in_flight)
  if w.kind == 's' then return sl_earliest(s, now, cost, w.limit, w.per, in_flight) end
  if w.kind == 'f' then return fx_earliest(s, now, cost, w.limit, w.per, in_flight) end
  return bk_earliest(s, now, cost, w.limit, w.per, in_flight)
end

local function win_add(w, s, now, cost, tracked)
  if w.kind == 's' then
    if not tracked then sl_add(s, now, cost) end
  elseif w.kind == 'f' then fx_add(s, now, cost, w.per)
  -- A tracked admission stays out of a bucket until it completes (counted in flight).
  elseif not tracked then bk_add(s, now, cost, w.limit, w.per) end
  win_cap(w, s)
end

-- A tracked request completed (or its lease ended) at `to_ms`: a sliding log
-- and a bucket count it from then, the latest it can have reached the server
-- (the core's Bucket::land charges the bucket at that arrival); a fixed bucket
-- counted it in every bucket while it was in flight.
local function win_settle(w, s, to_ms, cost)
  if w.kind == 's' then sl_add(s, to_ms, cost)
  -- Units landing together (the plan's) owe a full bucket at most.
  elseif w.kind == 'b' then bk_add(s, to_ms, math.min(cost, w.limit), w.limit, w.per) end
  win_cap(w, s)
end

local function win_restamp(w, s, from_ms, to_ms, cost)
  if w.kind == 's' then sl_restamp(s, from_ms, to_ms, cost)
  elseif w.kind == 'f' then fx_restamp(s, from_ms, to_ms, cost, w.per)
  else bk_floor(s, to_ms, cost, w.limit, w.per) end
  win_cap(w, s)
end

local win_reconcile_uncapped
-- `reset_known`: `until_ms` is the server's stated reset (not a guess of a
-- full period), so a fixed window moves its boundaries there.
local function win_reconcile(w, s, now, server_used, until_ms, in_flight, reset_known)
  local changed = win_reconcile_uncapped(w, s, now, math.min(server_used, w.limit), until_ms, in_flight, reset_known)
  win_cap(w, s)
  -- Even a report our count already covers may count a permit that is never
  -- sent: remember when it came and until when it holds (see win_release).
  s.rep = now
  s.rut = math.max(s.rut or until_ms, until_ms)
  return changed
end

-- Gives back the units of a permit never used (its request was not sent),
-- taken at `at_ms`, released at `now` (the core's Window::release); `tracked`:
-- it was counted as in flight (the caller took it out of the in-flight set).
-- Only what the window can tell is that permit's, never more.
local function win_release(w, s, at_ms, cost, now, tracked)
  if s.rep ~= nil and s.rep >= at_ms then
    -- A server's count adopted since may have included it: keep what is
    -- counted (a tracked one, counted only as in flight, as sent when that
    -- report ends).
    if tracked and w.kind == 's' then
      sl_add(s, math.max(s.rut - w.per, now), cost)
      win_cap(w, s)
    elseif tracked and w.kind == 'b' then
      bk_add(s, now, math.min(cost, w.limit), w.limit, w.per)
    end
    return
  end
  if w.kind == 's' then
    if not tracked then sl_remove(s, at_ms, cost) end
  elseif w.kind == 'f' then
    -- Only the current bucket still counts it: a tracked request is counted
    -- there wherever it was admitted, an untracked one only if admitted in it.
    local current = fx_bucket_start(at_ms, w.per, s.phase) == s.start
    if tracked or current then
      local floor = 0
      if s.start < s.cuntil then floor = s.cu end
      s.count = math.max(math.max(0, s.count - cost), floor)
      if current and s.guard > 0 and at_ms >= s.start + w.per - s.guard then
        s.spill = math.max(0, s.spill - cost)
      end
      s.spill = math.min(s.spill, s.count)
    end
  elseif not tracked then
    bk_unadd(s, at_ms, cost, now, w.limit, w.per)
  end
end

win_reconcile_uncapped = function(w, s, now, server_used, until_ms, in_flight, reset_known)
  local ours = win_used(w, s, now, in_flight)
  if w.kind == 's' then
    local from = math.max(0, until_ms - w.per)
    local moved = sl_hold(s, from, math.min(server_used, s.used))
    local others = math.max(0, server_used - ours)
    if others > 0 then sl_add(s, from, others) end
    return moved or others > 0
  elseif w.kind == 'f' then
    local c, u, t = s.count, s.cu, s.cuntil
    local moved = reset_known and fx_adopt_reset(s, now, until_ms, w.per)
    fx_reconcile(s, server_used, until_ms, w.per)
    return moved or c ~= s.count or u ~= s.cu or t ~= s.cuntil
  end
  -- A bucket: changed when its time moved (not compared with the rounded-up use).
  local tm, tf = s.tm, s.tf
  bk_floor(s, now, server_used, w.limit, w.per)
  return tm ~= s.tm or tf ~= s.tf
end

---------------------------------------------------------------- state
-- st.v: format; st.gen: generation; st.spec: the windows it was made for;
-- st.clock: latest time seen; st.gate: paused until; st.w: window states;
-- st.fl: in flight, list of { at, c (cost), u (lease ends) } sorted by at, one
-- per admission time (the core's map); st.flt: their cost;
-- st.q: the queue, sorted by (-p, r, s): { id, o (owner), p (priority),
-- r (round), s (arrival seq), c (cost), x (expires) }; st.seq: last arrival;
-- st.sr: the round served last; st.keep: the state matters until then.

local ST, CREATED

-- The quota's channel: `{prefix:hash}:head` for the key `{prefix:hash}:state`.
local function channel() return string.sub(KEY, 1, -7) .. ':head' end

-- The generation for a reply: 0 when it is the one the caller knows.
local function gen_reply()
  if ARGV[3] == ST.gen then return 0 end
  return ST.gen
end
-- The state as read (its MessagePack), for cache().
local RAW

-- Decoded states by key, each with the MessagePack it was decoded from (or
-- written as). A library keeps them between calls, so a call whose key still
-- holds those very bytes skips the decoding (a script starts empty each call:
-- it always decodes). A call takes its key's entry (a call that fails half way
-- leaves none behind) and puts it back with the bytes it leaves in Redis: the
-- ones it wrote (save), or, when it wrote nothing, the ones it read, the state
-- then moved to its clock without any change a later call would not make
-- itself (acquire.lua's refusals: see DIRTY). At most 256 keys.
local CACHED_RAW, CACHED_ST, CACHED_N = {}, {}, 0

-- Refusals by key (acquire.lua's 'try'), see remember_refusal.
local REFUSED = {}

local function cache(raw)
  if CACHED_RAW[KEY] == nil then
    if CACHED_N >= 256 then CACHED_RAW, CACHED_ST, REFUSED, CACHED_N = {}, {}, {}, 0 end
    CACHED_N = CACHED_N + 1
  end
  CACHED_RAW[KEY], CACHED_ST[KEY] = raw, ST
end

local function load(have, pre_raw)
  local raw
  if have then raw = pre_raw else raw = redis.call('GET', KEY) end
  RAW = raw
  if raw then
    local cached = CACHED_ST[KEY]
    CACHED_ST[KEY] = nil
    -- Lua strings are interned: equal bytes are the same string, so this compares pointers.
    if cached ~= nil and CACHED_RAW[KEY] == raw then ST = cached else ST = cmsgpack.unpack(raw) end
    if ST.spec ~= SPEC then
      return 'SPEC'
    end
    if ARGV[3] ~= '' and ARGV[3] ~= ST.gen then return 'LOST' end
  else
    ST = { v = 1, gen = ARGV[4], spec = SPEC, clock = 0, gate = 0, w = {}, fl = {}, flt = 0, q = {}, seq = 0, sr = 0 }
    for i = 1, #WIN do ST.w[i] = win_new(WIN[i]) end
    CREATED = true
    -- A caller that knew a generation finds none: Redis lost the quota (a
    -- restart without persistence, a failover, an eviction) or it expired.
    -- Every process re-registers what it admitted (register.lua): this one
    -- now, the others when they hear of it (the announcement below) or at
    -- their next call. Until then the quota admits nothing for a grace period
    -- (ARGV[1]'s `recovery` ms, the store's `recoveryMs`), so the first process back
    -- cannot take what the others had already spent.
    if ARGV[3] ~= '' then
      ST.gate = NOW + RECOVERY_MS
      redis.call('PUBLISH', channel(), 'lost ' .. ST.gen)
      return 'LOST'
    end
  end
  return 'OK'
end

local function in_flight_total() return ST.flt end

-- Takes a permit (admitted at `at`, `cost` units) out of the in-flight set,
-- which is keyed by admission time like the core's. Whether it was there.
local function land(at, cost)
  for i = 1, #ST.fl do
    local e = ST.fl[i]
    if e.at == at then
      if e.c < cost then return false end
      e.c = e.c - cost
      if e.c == 0 then table.remove(ST.fl, i) end
      ST.flt = ST.flt - cost
      return true
    end
  end
  return false
end

-- Moves the clock to `now` (never back) and forgets what expired. Permits whose
-- lease ended (their process died or forgot them) count as sent at the end of
-- the lease, the latest moment they could have reached the server.
local function tick(now)
  local horizon = math.max(now, ST.clock)
  local i = 1
  while i <= #ST.fl do
    local e = ST.fl[i]
    if e.u <= horizon then
      DIRTY = true
      table.remove(ST.fl, i)
      ST.flt = ST.flt - e.c
      for k = 1, #WIN do win_settle(WIN[k], ST.w[k], math.max(e.u, e.at), e.c) end
    else
      i = i + 1
    end
  end
  if now > ST.clock then
    ST.clock = now
    for k = 1, #WIN do win_advance(WIN[k], ST.w[k], now, ST.flt) end
  end
  -- Waiters whose process stopped renewing them leave the queue.
  i = 1
  while i <= #ST.q do
    if ST.q[i].x <= horizon then table.remove(ST.q, i); DIRTY = true else i = i + 1 end
  end
  return ST.clock
end

local function earliest(cost)
  local now = ST.clock
  local at = math.max(ST.gate, now)
  for k = 1, #WIN do
    at = math.max(at, win_earliest(WIN[k], ST.w[k], now, cost, ST.flt))
  end
  return at
end

-- Admits `cost` at the clock if every window allows it: the time, or nil and the retry time.
local function try_admit(cost)
  local retry = earliest(cost)
  local now = ST.clock
  if retry > now then return nil, retry end
  for k = 1, #WIN do win_add(WIN[k], ST.w[k], now, cost, COUNT_IN_FLIGHT) end
  if COUNT_IN_FLIGHT then
    local last = ST.fl[#ST.fl]
    if last and last.at == now then last.c = last.c + cost
    elseif last and last.at > now then
      -- Registered (re-counted) permits may be later than the clock: keep the order.
      local pos = #ST.fl
      while pos > 1 and ST.fl[pos - 1].at > now do pos = pos - 1 end
      table.insert(ST.fl, pos, { at = now, c = cost, u = now + LEASE })
    else ST.fl[#ST.fl + 1] = { at = now, c = cost, u = now + LEASE } end
    ST.flt = ST.flt + cost
  end
  return now
end

-- "Never" (only a completion can make room) in a reply. With leases there is
-- a time after all: when the oldest permit in flight stops being held (its
-- units then count as sent at its lease's end), so a waiter knows when to look again.
local function reply_time(t)
  if t == INF then
    if #ST.fl > 0 then return ST.fl[1].u end
    return -1
  end
  return t
end

-- Writes the state back with an expiry: nothing outlives the moment it stops
-- mattering (the longest window after the last admission, a pause, a carry,
-- a lease or a waiter), plus a minute of margin.
local function save()
  local keep = ST.clock + MAX_PER
  keep = math.max(keep, ST.gate)
  for i = 1, #ST.fl do keep = math.max(keep, ST.fl[i].u + MAX_PER) end
  for i = 1, #ST.q do keep = math.max(keep, ST.q[i].x) end
  for k = 1, #WIN do
    if WIN[k].kind == 'f' then keep = math.max(keep, ST.w[k].cuntil + WIN[k].per) end
    if WIN[k].kind == 'b' then keep = math.max(keep, ST.w[k].tm) end
  end
  local ttl = math.max(1, keep - ST.clock) + 60000
  local raw = cmsgpack.pack(ST)
  redis.call('SET', KEY, raw, 'PX', ttl)
  cache(raw)
  -- Announce the head of the queue when it changed or time may have freed
  -- room for it: only its owner acts on it (no thundering herd).
  if #ST.q > 0 then
    local h = ST.q[1]
    redis.call('PUBLISH', channel(), h.id .. ' ' .. h.o .. ' ' .. reply_time(earliest(h.c)))
  end
end

-- A busy quota refuses call after call until some time E, and until then
-- only a write can change that: a refusal is computed once, at clock C, and
-- repeated for calls with the same cost that find the same bytes in Redis
-- (and the same configuration) at a clock still before E, or before the
-- state changes on its own in a way that must be written (DIRTY in tick: a
-- lease ends, a fixed window's bucket ends). Between C and then, tick only
-- forgets expired log entries and moves the clock, which changes no refusal:
-- each window's earliest time stays what it was. Only with an empty queue (a
-- waiter makes every call write). A library keeps these between calls.
local function remember_refusal(retry)
  if #ST.q > 0 or retry == nil then return end
  local cost = ARGV[6]
  for i = 7, #ARGV do
    if ARGV[i] ~= cost then return end
  end
  local quiet = retry
  for i = 1, #ST.fl do quiet = math.min(quiet, ST.fl[i].u) end
  for k = 1, #WIN do
    if WIN[k].kind == 'f' then quiet = math.min(quiet, ST.w[k].start + WIN[k].per) end
  end
  REFUSED[KEY] = { raw = RAW, config = ARGV[1], cost = cost, till = quiet, reply = reply_time(retry) }
end

-- The remembered refusal's reply time if it holds for this call, else nil.
local function refused_again()
  local r = REFUSED[KEY]
  if r == nil or r.raw ~= RAW or r.config ~= ARGV[1] or #ST.q > 0 then return nil end
  if math.max(NOW, ST.clock) >= r.till then return nil end
  for i = 6, #ARGV do
    if ARGV[i] ~= r.cost then return nil end
  end
  return r.reply
end

-- Admits queued waiters of `owner` while one of them heads the queue and fits.
local function pump(owner, out)
  while #ST.q > 0 do
    local h = ST.q[1]
    if h.o ~= owner then break end
    local at = try_admit(h.c)
    if not at then break end
    table.remove(ST.q, 1)
    ST.sr = h.r
    out[#out + 1] = h.id
    out[#out + 1] = at
  end
end

local function head_reply(out)
  if #ST.q == 0 then
    out[#out + 1] = ''
    out[#out + 1] = ''
    out[#out + 1] = -2
  else
    local h = ST.q[1]
    out[#out + 1] = h.id
    out[#out + 1] = h.o
    out[#out + 1] = reply_time(earliest(h.c))
  end
end

-- Every operation starts here: reads its arguments and the quota's state.
-- nil, or the reply that ends the call (the state was lost, or is held with
-- other windows).
-- The caller's injected time (argv[2]), or Redis's own clock: one clock for
-- every process (see README "Sharing a quota").
local function clock_of(argv)
  if argv[2] ~= '' then return tonumber(argv[2]) end
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end

local function begin(keys, argv, quick)
  KEY, ARGV = keys[1], argv
  local now, raw, have
  if quick then
    -- acquire.lua's 'try' that a remembered refusal answers (see
    -- remember_refusal), with the least work: the time, the bytes, a few
    -- comparisons; the state stays in the cache, untouched.
    local r = REFUSED[KEY]
    if r ~= nil and argv[5] == 'try' and argv[1] == r.config then
      now = clock_of(argv)
      raw, have = redis.call('GET', KEY), true
      local st = CACHED_ST[KEY]
      if st ~= nil and raw == r.raw and CACHED_RAW[KEY] == raw and #st.q == 0 and math.max(now, st.clock) < r.till
        and (argv[3] == '' or argv[3] == st.gen) then
        local gen = st.gen
        if argv[3] == gen then gen = 0 end
        local out = { 0, now, gen }
        for i = 6, #argv do
          if argv[i] ~= r.cost then out = nil; break end
          out[#out + 1] = 0
          out[#out + 1] = r.reply
        end
        if out then return out end
      end
    end
  end
  local c = PARSED[argv[1]] or parse_config(argv[1])
  SPEC, RECOVERY_MS, WIN, MAX_PER = c.spec, c.recovery, c.win, c.max_per
  COUNT_IN_FLIGHT, LEASE, QUEUE_LEASE = c.in_flight, c.lease, c.queue_lease
  NOW = have and now or clock_of(argv)
  DIRTY, ST, CREATED, RAW = false, nil, false, nil
  local status = load(have, raw)
  if status == 'SPEC' then return { 2, NOW, 0 } end
  if status == 'LOST' then
    if CREATED then save() end
    return { 1, NOW, ST.gen }
  end
  return nil
end
