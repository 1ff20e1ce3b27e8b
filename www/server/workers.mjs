// `npm start -- --redis <url> --workers N`: the live pipeline as N worker
// processes (worker.mjs, child_process.fork) sharing every quota through that
// Redis, and what the page draws of them: the same state as one pipeline's
// (pipeline.mjs: per API and scope, the windows, the counters, the timeline's
// events), the scopes' counters summed over the workers, each scope's windows
// as the store counts them, plus each worker's counters and its share of
// every window. The servers stay in the dashboard's process: their own logs
// say what all workers together sent.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';
import * as tollgate from 'tollgate';
import { redisLabel } from './flags.mjs';
import { serverSeen } from './pipeline.mjs';
import { quotaTimers } from './shared-clock.mjs';

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));
const HISTORY_MS = 2 * 3_600_000; // as pipeline.mjs: the timeline's span
const START_MS = 20_000; // real ms a worker may take to connect and start
const STOP_MS = 3_000; // real ms a worker may take to stop before it is killed

/**
 * Rejects (with `code: 'REDIS_UNREACHABLE'` and a one-line message) unless
 * Redis answers PING within `timeoutMs`: one try, no retry loop, so a wrong
 * URL fails in seconds instead of hanging.
 */
export async function checkRedis(url, timeoutMs = 3_000) {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0,
    retryStrategy: () => null, enableOfflineQueue: false });
  let cause; // the socket's own error (ECONNREFUSED, ENOTFOUND, ...) says more than ioredis's 'Connection is closed.'
  client.on('error', (error) => { cause ??= error; });
  try {
    await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  } catch (error) {
    const e = new Error(`Redis at ${redisLabel(url)} does not answer (${(cause ?? error)?.message ?? error})`);
    e.code = 'REDIS_UNREACHABLE';
    throw e;
  } finally {
    client.disconnect();
  }
}

/**
 * Deletes this dashboard's quotas (`{prefix:hash}:state`): their times are on
 * its quota clock, which no later dashboard continues, so they are of no use
 * to anyone, and a day window's key would otherwise stay a day.
 */
async function forget(url, prefix, timeoutMs = 2_000) {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null,
    enableReadyCheck: false, disableClientInfo: true, commandTimeout: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `{${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/**
 * Starts `count` workers on the `servers` (in this process) and resolves with
 * the pipeline interface serve.mjs uses (`hello()`, `tick()`, `stop()`) once
 * every one reports ready. `clock` is a `sharedAcceleratedClock`, whose numbers
 * the workers reproduce. A worker that fails to start stops them all and rejects.
 */
export async function startWorkers({ count, redis, clock, speed, servers, prefix, onServerLog }) {
  await checkRedis(redis);
  const label = redisLabel(redis);
  const config = {
    redis, redisLabel: label, prefix,
    // One secret for all: a scope's hashed key (its id on the page) is then the same in every worker.
    keySecret: randomBytes(32).toString('hex'),
    clock: { startMs: clock.startMs, realStartMs: clock.realStartMs, speed },
    urls: { hex: servers.hex.url, hexagraph: servers.hexagraph.url, sch: servers.sch.url },
  };
  const usage = new tollgate.UsageMonitor({ weeklyBudget: 500, thresholds: [0.8, 1], clock: quotaTimers(clock, speed) });
  const alerts = [];
  usage.addEventListener('alert', (e) => alerts.push(e.detail));
  const seen = Object.fromEntries(Object.keys(servers).map((id) => [id, { accepted: 0, refused: 0, other: 0 }]));
  const history = new Map(); // scope id -> { sent, refused, retried }: all workers' events
  let fresh = [];

  const workers = Array.from({ length: count }, (_, index) => {
    const child = fork(WORKER, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    child.send({ type: 'start', config: { ...config, index } }); // not as arguments: `ps` shows those (a password in the URL)
    // sent: scope id -> this worker's admission times within the scope's longest window (its shares).
    const w = { index, child, pid: child.pid, state: undefined, exit: undefined, stderr: '', sent: new Map() };
    child.stderr.on('data', (d) => { w.stderr = (w.stderr + d).slice(-2_000); });
    w.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      w.exit = { code, signal };
      resolve();
    }));
    w.ready = new Promise((resolve, reject) => {
      child.on('message', (m) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'error') reject(new Error(m.message));
        else if (m.type === 'tick') receive(w, m);
      });
      w.exited.then(() => reject(new Error(`worker ${index + 1} exited (${w.exit.code ?? w.exit.signal})${w.stderr ? `: ${w.stderr.trim().split('\n').at(-1)}` : ''}`)));
    });
    w.ready.catch(() => {}); // awaited below; a late failure must not become an unhandled rejection
    return w;
  });

  async function stop() {
    for (const w of workers) if (w.exit === undefined && w.child.connected) w.child.send({ type: 'stop' });
    const killer = setTimeout(() => {
      for (const w of workers) if (w.exit === undefined) w.child.kill('SIGKILL');
    }, STOP_MS);
    await Promise.all(workers.map((w) => w.exited));
    clearTimeout(killer);
    await forget(redis, prefix).catch(() => {}); // best effort: the keys also expire by themselves
  }

  try {
    await Promise.race([
      Promise.all(workers.map((w) => w.ready)),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`the workers did not start within ${START_MS / 1_000} s`)), START_MS).unref()),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }

  function receive(w, m) {
    w.state = m.state;
    for (const run of m.runs) usage.record(run.projectId, run.at);
    for (const ev of m.state.events) {
      if (ev.kind === 'sent') {
        let times = w.sent.get(ev.scope);
        if (times === undefined) w.sent.set(ev.scope, (times = []));
        times.push(ev.at);
      }
      const hist = historyOf(ev.scope);
      hist[ev.kind].push(ev.at);
      fresh.push(ev);
    }
  }

  function historyOf(id) {
    let hist = history.get(id);
    if (hist === undefined) history.set(id, (hist = { sent: [], refused: [], retried: [] }));
    return hist;
  }

  function prune(now, apis) {
    const longest = new Map(apis.flatMap((a) => a.scopes.map((s) => [s.id, Math.max(0, ...s.windows.map((x) => x.perMs))])));
    for (const w of workers) {
      for (const [id, times] of w.sent) {
        let i = 0;
        while (i < times.length && times[i] <= now - (longest.get(id) ?? HISTORY_MS)) i++;
        if (i > 0) times.splice(0, i);
      }
    }
    for (const hist of history.values()) {
      for (const list of Object.values(hist)) {
        let i = 0;
        while (i < list.length && list[i] <= now - HISTORY_MS) i++;
        if (i > 0) list.splice(0, i);
      }
    }
  }

  const sum = (xs, f) => xs.reduce((n, x) => n + f(x), 0);

  /** One API of every worker's state: scopes merged by id, counters summed, each worker's part kept. */
  function mergeApi(id, parts, now) {
    const first = parts[0].api;
    const scopes = new Map();
    for (const { w, api } of parts) {
      for (const scope of api.scopes) {
        let m = scopes.get(scope.id);
        if (m === undefined) scopes.set(scope.id, (m = { parts: [] }));
        m.parts.push({ w, scope });
      }
    }
    const statuses = {};
    for (const { api } of parts) for (const [code, n] of Object.entries(api.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
    return {
      id, title: first.title, quota: first.quota, url: first.url, statuses,
      server: servers[id] ? serverSeen(id, servers[id], seen[id], onServerLog) : seen[id],
      errors: sum(parts, (p) => p.api.errors), lastError: parts.map((p) => p.api.lastError).find(Boolean), skipped: sum(parts, (p) => p.api.skipped),
      scopes: [...scopes.values()].map(({ parts: ps }) => {
        // The windows as the store counts them, read by the worker that ticked last.
        const latest = ps.reduce((a, b) => (b.w.state.now > a.w.state.now ? b : a)).scope;
        const counts = {};
        for (const { scope } of ps) for (const [k, n] of Object.entries(scope.counts)) counts[k] = (counts[k] ?? 0) + n;
        const pauses = ps.map((p) => p.scope.pause).filter(Boolean);
        return {
          id: latest.id, route: latest.route, key: latest.key, windows: latest.windows,
          configured: latest.configured, learned: latest.learned,
          pausedUntil: Math.max(...ps.map((p) => p.scope.pausedUntil)),
          pause: pauses.reduce((a, b) => (b.until > a.until ? b : a), pauses[0] ?? null),
          waiting: sum(ps, (p) => p.scope.waiting), inFlight: sum(ps, (p) => p.scope.inFlight), counts,
          // Each share counted here, at one `now` for all: the workers' states are up to a tick apart
          // (at x300, 75 s of quota time), so shares they counted themselves could add up across two windows.
          workers: ps.map(({ w, scope }) => ({ worker: w.index + 1, pid: w.pid, counts: scope.counts, waiting: scope.waiting,
            inFlight: scope.inFlight, share: latest.windows.map((win) => inWindow(w.sent.get(scope.id) ?? [], win, now)) }))
            .sort((a, b) => a.worker - b.worker),
        };
      }),
    };
  }

  function state(now) {
    const live = workers.filter((w) => w.state !== undefined);
    const ids = live.length > 0 ? live[0].state.apis.map((a) => a.id) : [];
    return {
      now, speed,
      redis: label,
      workers: workers.map((w) => {
        const scopes = (w.state?.apis ?? []).flatMap((a) => a.scopes);
        return {
          worker: w.index + 1, pid: w.pid, running: w.exit === undefined,
          exit: w.exit ? (w.exit.code ?? w.exit.signal) : undefined,
          admitted: sum(scopes, (s) => s.counts.admitted), refused: sum(scopes, (s) => s.counts.refused),
          waiting: sum(scopes, (s) => s.waiting), inFlight: sum(scopes, (s) => s.inFlight),
          // Calls that failed (e.g. StoreError while Redis is away), and the latest one's message.
          errors: sum(w.state?.apis ?? [], (a) => a.errors), lastError: (w.state?.apis ?? []).map((a) => a.lastError).find(Boolean),
        };
      }),
      apis: ids.map((id) => mergeApi(id, live.map((w) => ({ w, api: w.state.apis.find((a) => a.id === id) })).filter((p) => p.api), now)),
      usage: { ...usage.report({ overRunsPerWeek: 20 }), overRunsPerWeek: 20, alerts },
    };
  }

  return {
    pids: workers.map((w) => w.pid),
    hello() {
      const now = clock.now();
      const s = state(now);
      prune(now, s.apis);
      return { ...s, events: [], history: Object.fromEntries(history) };
    },
    tick() {
      const now = clock.now();
      const s = state(now);
      prune(now, s.apis);
      const events = fresh;
      fresh = [];
      return { ...s, events };
    },
    stop,
  };
}

/**
 * How many of `times` (admissions, ascending) a window counts at `now`: a sliding
 * window the last `perMs`, a fixed one its calendar period (epoch-aligned, as the
 * store counts it), a bucket the last `perMs` too (its refill spreads over that).
 */
function inWindow(times, w, now) {
  const from = w.kind === 'fixed' ? now - (((now % w.perMs) + w.perMs) % w.perMs) - 1 : now - w.perMs;
  let n = 0;
  for (let i = times.length - 1; i >= 0 && times[i] > from; i--) n++;
  return n;
}
