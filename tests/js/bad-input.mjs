// The bad-input table (issue 11): each bad input, and what the caller gets.
// bad-input.test.mjs runs every row; README's "Bad input" table lists the same
// rows (the test checks that each `input` appears there, in backticks).
//
// A row: { area, input, gets, run(ctx) }. `gets` is what the caller gets:
// 'TypeError: <regex>', 'SnapshotError: <regex>', 'InsufficientCapacityError',
// or 'ignored: <what is kept>' for malformed server headers, which are never an
// error and never a NaN, negative or unbounded time.

const T0 = 1_795_441_320_000;
export const NOW = T0;
const revoked = Proxy.revocable({}, {});
revoked.revoke();
const throwing = { get limit() { throw new Error('getter'); } };

/** A valid snapshot to corrupt, as restore would read it. */
export const GOOD = {
  version: 1, clockMs: T0, pausedUntilMs: 0,
  windows: [
    { limit: 20, perMs: 60_000, offsetMs: 0, state: { sliding: { log: [[T0 - 1_000, 1]] } } },
    { limit: 60, perMs: 3_600_000, offsetMs: 0, state: { fixed: { startMs: T0 - (T0 % 3_600_000), count: 3, carryUnits: 0, carryUntilMs: 0 } } },
    { limit: 10, perMs: 1_000, offsetMs: 0, state: { bucket: { tatMs: T0 + 100, tatRem: 0 } } },
  ],
};
const S = 0; // sliding window index in GOOD
const F = 1;
const B = 2;
/** GOOD with window `i`'s state body (or the window itself) changed. */
const body = (i, change) => {
  const snap = structuredClone(GOOD);
  const w = snap.windows[i];
  const key = Object.keys(w.state)[0];
  change(w.state[key], w, snap);
  return snap;
};

/** Corrupt snapshots: each one a SnapshotError from Limiter.restore. */
export const CORRUPT = [
  ['not an object: a JSON string', '{"version":1}'],
  ['null', null],
  ['an array', []],
  ['`version` missing', { ...GOOD, version: undefined }],
  ['`version` 2', { ...GOOD, version: 2 }],
  ['`version` "1"', { ...GOOD, version: '1' }],
  ['`windows` missing', { ...GOOD, windows: undefined }],
  ['`windows` not an array', { ...GOOD, windows: 'many' }],
  ['`windows: []`', { ...GOOD, windows: [] }],
  ['`clockMs` negative', { ...GOOD, clockMs: -1 }],
  ['`clockMs` 1.5', { ...GOOD, clockMs: 1.5 }],
  ['`clockMs` above 2^53', { ...GOOD, clockMs: 2 ** 60 }],
  ['`pausedUntilMs` a string', { ...GOOD, pausedUntilMs: 'soon' }],
  ['a window that is null', { ...GOOD, windows: [null] }],
  ['`limit` 0', body(S, (b, w) => { w.limit = 0; })],
  ['`limit` above 2^32 - 1', body(S, (b, w) => { w.limit = 2 ** 33; })],
  ['`perMs` 0', body(S, (b, w) => { w.perMs = 0; })],
  ['`perMs` above 2^40', body(S, (b, w) => { w.perMs = 2 ** 41; })],
  ['`offsetMs` negative', body(F, (b, w) => { w.offsetMs = -5; })],
  ['`state` with two kinds', body(S, (b, w) => { w.state.fixed = {}; })],
  ['`state` of an unknown kind', body(S, (b, w) => { w.state = { leaky: {} }; })],
  ['a sliding `log` that is not an array', body(S, (b) => { b.log = {}; })],
  ['a sliding entry that is not a pair', body(S, (b) => { b.log = [[T0]]; })],
  ['sliding times out of order', body(S, (b) => { b.log = [[T0, 1], [T0 - 5, 1]]; })],
  ['a sliding entry of cost 0', body(S, (b) => { b.log = [[T0, 0]]; })],
  ['a sliding entry of cost -1', body(S, (b) => { b.log = [[T0, -1]]; })],
  ['a sliding time as a string', body(S, (b) => { b.log = [['1795441320000', 1]]; })],
  ['a fixed `count` missing', body(F, (b) => { delete b.count; })],
  ['a fixed `count` of NaN', body(F, (b) => { b.count = Number.NaN; })],
  ['a fixed `startMs` far below zero', body(F, (b) => { b.startMs = -(2 ** 50); })],
  ['a fixed `phaseMs` past the period', body(F, (b) => { b.phaseMs = 3_600_000; })],
  ['a fixed `guardMs` above half the period', body(F, (b) => { b.guardMs = 2_000_000; })],
  ['a fixed `spill` above `count`', body(F, (b) => { b.spill = 4; })],
  ['a bucket `tatRem` at its limit', body(B, (b) => { b.tatRem = 10; })],
  ['a bucket `tatMs` past 2^53 + 2^40', body(B, (b) => { b.tatMs = 2 ** 54; })],
  ['a bucket `tatMs` of Infinity', body(B, (b) => { b.tatMs = Number.POSITIVE_INFINITY; })],
  ['a getter that throws', { version: 1, clockMs: T0, pausedUntilMs: 0, get windows() { throw new Error('getter'); } }],
  ['a revoked Proxy', revoked.proxy],
  ['a window given as a revoked Proxy', { ...GOOD, windows: [revoked.proxy] }],
];

const limiter = (ctx, extra = {}) => new ctx.Limiter({ windows: [{ limit: 5, per: '1m' }], clock: ctx.clock, ...extra });

/** Rows of the README table: the JS API, snapshots and headers. */
export const ROWS = [
  // new Limiter(options)
  { area: 'new Limiter', input: 'new Limiter()', gets: 'TypeError: options must be an object', run: (c) => new c.Limiter() },
  { area: 'new Limiter', input: 'new Limiter(null)', gets: 'TypeError: options must be an object', run: (c) => new c.Limiter(null) },
  { area: 'new Limiter', input: 'windows: []', gets: 'TypeError: `windows` must be a non-empty array', run: (c) => new c.Limiter({ windows: [] }) },
  { area: 'new Limiter', input: "windows: 'x'", gets: 'TypeError: `windows` must be a non-empty array', run: (c) => new c.Limiter({ windows: 'x' }) },
  { area: 'new Limiter', input: 'windows: [null]', gets: 'TypeError: `windows\\[0\\]` must be an object', run: (c) => new c.Limiter({ windows: [null] }) },
  { area: 'new Limiter', input: 'limit: 0', gets: 'TypeError: `windows\\[0\\].limit` must be an integer from 1', run: (c) => new c.Limiter({ windows: [{ limit: 0, per: '1m' }] }) },
  { area: 'new Limiter', input: 'limit: 1.5', gets: 'TypeError: `windows\\[0\\].limit` must be an integer', run: (c) => new c.Limiter({ windows: [{ limit: 1.5, per: '1m' }] }) },
  { area: 'new Limiter', input: 'limit: 2 ** 32', gets: 'TypeError: `windows\\[0\\].limit`', run: (c) => new c.Limiter({ windows: [{ limit: 2 ** 32, per: '1m' }] }) },
  { area: 'new Limiter', input: "limit: '5'", gets: 'TypeError: `windows\\[0\\].limit`', run: (c) => new c.Limiter({ windows: [{ limit: '5', per: '1m' }] }) },
  { area: 'new Limiter', input: 'limit: 5n', gets: 'TypeError: `windows\\[0\\].limit`', run: (c) => new c.Limiter({ windows: [{ limit: 5n, per: '1m' }] }) },
  { area: 'new Limiter', input: 'a `limit` getter that throws', gets: "Error: getter (the getter's own error, before any wasm call)", run: (c) => new c.Limiter({ windows: [throwing] }) },
  { area: 'new Limiter', input: "per: '1y'", gets: "TypeError: `windows\\[0\\].per` must be whole milliseconds or a string such as '500ms'", run: (c) => new c.Limiter({ windows: [{ limit: 1, per: '1y' }] }) },
  { area: 'new Limiter', input: 'per: 0', gets: 'TypeError: `windows\\[0\\].per` must be from 1 ms', run: (c) => new c.Limiter({ windows: [{ limit: 1, per: 0 }] }) },
  { area: 'new Limiter', input: 'per: -1', gets: 'TypeError: `windows\\[0\\].per` must be whole milliseconds', run: (c) => new c.Limiter({ windows: [{ limit: 1, per: -1 }] }) },
  { area: 'new Limiter', input: 'per: 2 ** 41', gets: 'TypeError: `windows\\[0\\].per` must be from 1 ms to 1099511627776 ms', run: (c) => new c.Limiter({ windows: [{ limit: 1, per: 2 ** 41 }] }) },
  { area: 'new Limiter', input: 'per: NaN', gets: 'TypeError: `windows\\[0\\].per`', run: (c) => new c.Limiter({ windows: [{ limit: 1, per: Number.NaN }] }) },
  { area: 'new Limiter', input: "kind: 'leaky'", gets: "TypeError: `windows\\[0\\].kind` must be 'sliding', 'fixed' or 'bucket'", run: (c) => new c.Limiter({ windows: [{ limit: 1, per: 1, kind: 'leaky' }] }) },
  { area: 'new Limiter', input: "offset on a 'sliding' window", gets: "TypeError: `windows\\[0\\].offset` applies only to kind 'fixed'", run: (c) => new c.Limiter({ windows: [{ limit: 1, per: 1, offset: 5 }] }) },
  { area: 'new Limiter', input: 'maxWaiters: -1', gets: 'TypeError: `maxWaiters` must be an integer >= 0 or Infinity', run: (c) => limiter(c, { maxWaiters: -1 }) },
  { area: 'new Limiter', input: "maxWaiters: '10'", gets: 'TypeError: `maxWaiters`', run: (c) => limiter(c, { maxWaiters: '10' }) },
  { area: 'new Limiter', input: 'clock: {}', gets: 'TypeError: `clock` must have `now\\(\\)`', run: (c) => limiter(c, { clock: {} }) },
  { area: 'new Limiter', input: "countInFlight: 'yes'", gets: 'TypeError: `countInFlight` must be true or false', run: (c) => limiter(c, { countInFlight: 'yes' }) },
  { area: 'new Limiter', input: 'maxConcurrent: 0', gets: 'TypeError: `maxConcurrent`', run: (c) => limiter(c, { maxConcurrent: 0 }) },
  // the clock
  { area: 'clock', input: 'clock.now() returns NaN', gets: 'TypeError: `now` must be a finite number of milliseconds', run: (c) => limiter(c, { clock: { ...c.clock, now: () => Number.NaN } }).tryAcquire() },
  { area: 'clock', input: 'clock.now() returns a BigInt', gets: 'TypeError: `clock.now\\(\\)` must return a number', run: (c) => limiter(c, { clock: { ...c.clock, now: () => 10n } }).tryAcquire() },
  { area: 'clock', input: "clock.now() returns '2026'", gets: 'TypeError: `clock.now\\(\\)` must return a number', run: (c) => limiter(c, { clock: { ...c.clock, now: () => '2026' } }).tryAcquire() },
  { area: 'clock', input: 'clock.now() returns -1', gets: 'TypeError: `now` must be a finite number', run: (c) => limiter(c, { clock: { ...c.clock, now: () => -1 } }).tryAcquire() },
  { area: 'clock', input: 'clock.now() returns 2 ** 60', gets: 'TypeError: `now` must be a finite number', run: (c) => limiter(c, { clock: { ...c.clock, now: () => 2 ** 60 } }).tryAcquire() },
  { area: 'clock', input: 'clock.now() throws', gets: 'Error: its own error', run: (c) => limiter(c, { clock: { ...c.clock, now: () => { throw new Error('its own error'); } } }).tryAcquire() },
  // tryAcquire / acquire
  { area: 'tryAcquire', input: 'tryAcquire(0)', gets: 'TypeError: `cost` must be an integer from 1', run: (c) => limiter(c).tryAcquire(0) },
  { area: 'tryAcquire', input: 'tryAcquire(1.5)', gets: 'TypeError: `cost`', run: (c) => limiter(c).tryAcquire(1.5) },
  { area: 'tryAcquire', input: "tryAcquire('1')", gets: 'TypeError: `cost`', run: (c) => limiter(c).tryAcquire('1') },
  { area: 'tryAcquire', input: 'tryAcquire(6) on a limit of 5', gets: 'InsufficientCapacityError: a cost of 6 can never be admitted', run: (c) => limiter(c).tryAcquire(6) },
  { area: 'tryAcquire', input: 'tryAcquire(revokedProxy)', gets: 'TypeError: `cost`', run: (c) => limiter(c).tryAcquire(revoked.proxy) },
  { area: 'acquire', input: 'acquire(null)', gets: 'TypeError: `options` must be an object', run: (c) => limiter(c).acquire(null) },
  { area: 'acquire', input: "acquire('fast')", gets: 'TypeError: `options` must be an object', run: (c) => limiter(c).acquire('fast') },
  { area: 'acquire', input: 'acquire({ cost: -1 })', gets: 'TypeError: `cost`', run: (c) => limiter(c).acquire({ cost: -1 }) },
  { area: 'acquire', input: 'acquire({ priority: 0.5 })', gets: 'TypeError: `priority` must be an integer', run: (c) => limiter(c).acquire({ priority: 0.5 }) },
  { area: 'acquire', input: 'acquire({ priority: 2 ** 31 })', gets: 'TypeError: `priority`', run: (c) => limiter(c).acquire({ priority: 2 ** 31 }) },
  { area: 'acquire', input: 'acquire({ signal: {} })', gets: 'TypeError: `signal` must be an AbortSignal (and no waiter is left behind)', run: (c) => limiter(c).acquire({ signal: {} }) },
  { area: 'acquire', input: 'acquire({ signal: aborted })', gets: "AbortError: (the signal's own reason)", run: (c) => limiter(c).acquire({ signal: AbortSignal.abort() }) },
  { area: 'acquire', input: 'a `cost` getter that throws', gets: 'Error: getter', run: (c) => limiter(c).acquire({ get cost() { throw new Error('getter'); } }) },
  { area: 'acquire', input: 'one waiter more than `maxWaiters`', gets: 'QueueFullError: the wait queue is full', run: (c) => { const l = limiter(c, { maxWaiters: 0 }); for (let i = 0; i < 5; i++) l.tryAcquire(); return l.acquire(); } },
  // permits
  { area: 'permit', input: 'permit.complete(NaN)', gets: 'TypeError: `at` must be a time in ms (and the permit stays open: retry)', run: (c) => limiter(c).tryAcquire().permit.complete(Number.NaN) },
  { area: 'permit', input: 'permit.complete(-1)', gets: 'TypeError: `at` must be a time in ms', run: (c) => limiter(c).tryAcquire().permit.complete(-1) },
  { area: 'permit', input: "permit.complete('later')", gets: 'TypeError: `at` must be a time in ms', run: (c) => limiter(c).tryAcquire().permit.complete('later') },
  { area: 'permit', input: 'permit.complete(now + 1 h)', gets: 'TypeError: `at` must be a time in ms since the epoch, at most 1000 ms past the clock', run: (c) => limiter(c).tryAcquire().permit.complete(T0 + 3_600_000) },
  { area: 'permit', input: 'permit.complete(microseconds)', gets: 'TypeError: `at` must be a time in ms since the epoch, at most 1000 ms past the clock', run: (c) => limiter(c).tryAcquire().permit.complete(T0 * 1_000) },
  // other members
  { area: 'reconcile', input: 'reconcile(0)', gets: "TypeError: `reconcile\\(window, \\{ remaining, resetAt \\}\\)` needs the server's report", run: (c) => limiter(c).reconcile(0) },
  { area: 'reconcile', input: 'reconcile(5, { remaining: 1 })', gets: 'TypeError: `window` must be an index from 0 to 0', run: (c) => limiter(c).reconcile(5, { remaining: 1 }) },
  { area: 'reconcile', input: 'reconcile(0, { remaining: -1 })', gets: 'TypeError: `remaining` must be an integer >= 0', run: (c) => limiter(c).reconcile(0, { remaining: -1 }) },
  { area: 'reconcile', input: "reconcile(0, { remaining: 1, resetAt: 'soon' })", gets: 'TypeError: `resetAt` must be whole milliseconds', run: (c) => limiter(c).reconcile(0, { remaining: 1, resetAt: 'soon' }) },
  { area: 'pauseUntil', input: 'pauseUntil(NaN)', gets: 'TypeError: `until` must be a finite number of milliseconds', run: (c) => limiter(c).pauseUntil(Number.NaN) },
  { area: 'pauseUntil', input: "pauseUntil('1h')", gets: 'TypeError: `until` must be a number', run: (c) => limiter(c).pauseUntil('1h') },
  { area: 'alignToServer', input: 'alignToServer(Infinity)', gets: 'TypeError: `offsetMs` must be a finite number', run: (c) => limiter(c).alignToServer(Number.POSITIVE_INFINITY) },
  { area: 'alignToServer', input: 'alignToServer(0, -1)', gets: 'TypeError: `uncertaintyMs` must be from 0 to 3600000', run: (c) => limiter(c).alignToServer(0, -1) },
  { area: 'plan', input: 'plan(-1)', gets: 'TypeError: `n` must be an integer from 0 to 1000000', run: (c) => limiter(c).plan(-1) },
  { area: 'plan', input: 'plan(2_000_000)', gets: 'TypeError: `n` must be an integer from 0 to 1000000', run: (c) => limiter(c).plan(2_000_000) },
  { area: 'plan', input: 'plan(1, null)', gets: 'TypeError: `options` must be an object', run: (c) => limiter(c).plan(1, null) },
  { area: 'earliest', input: 'earliest(0)', gets: 'TypeError: `cost`', run: (c) => limiter(c).earliest(0) },
  { area: 'dispose', input: 'tryAcquire() after dispose()', gets: 'TollgateError: this limiter was disposed', run: (c) => { const l = limiter(c); l.dispose(); return l.tryAcquire(); } },
  // snapshots (the corrupt-snapshot table has more)
  ...CORRUPT.slice(0, 12).map(([what, snap]) => ({ area: 'restore', input: `restore: ${what}`, gets: 'SnapshotError: (corrupt snapshot|snapshot version)', run: (c) => c.Limiter.restore(snap) })),
  { area: 'restore', input: 'restore with other `windows`', gets: 'SnapshotError: the snapshot was taken with other windows', run: (c) => c.Limiter.restore(GOOD, { windows: [{ limit: 30, per: '1m' }] }) },
  // headers: never an error; the value is ignored
  ...[
    ['Retry-After: -5', { 'retry-after': '-5' }],
    ['Retry-After: NaN', { 'retry-after': 'NaN' }],
    ['Retry-After: 1e400', { 'retry-after': '1e400' }],
    ['Retry-After: Wed, 99 Foo 2026', { 'retry-after': 'Wed, 99 Foo 2026' }],
    ['X-RateLimit-Remaining: -3', { 'x-ratelimit-remaining': '-3' }],
    ['X-RateLimit-Reset: -1', { 'x-ratelimit-reset': '-1' }],
    ['RateLimit-Policy: garbage;;;', { 'ratelimit-policy': 'garbage;;;' }],
    ['Date: not a date', { date: 'not a date' }],
  ].map(([input, headers]) => ({ area: 'headers', input, gets: 'ignored: no time, no window', headers })),
  { area: 'headers', input: 'RateLimit: limit=10, remaining=x', gets: 'ignored: the bad `remaining`; the limit is kept', headers: { ratelimit: 'limit=10, remaining=x' }, expect: { windows: [{ limit: 10 }] } },
  { area: 'headers', input: 'Retry-After: 99999999999999999', gets: 'capped: retryAtMs at most 2^53 - 1', headers: { 'retry-after': '99999999999999999' }, capped: true },
];
