// The live pipeline: Node code driving the three seed-like API servers through
// rateLimitedFetch with tollgate's presets, and the state the page draws.
import * as tollgate from 'tollgate';
import { windowViews } from '../window-view.js';

const { Limiter, UsageMonitor, presets, rateLimitedFetch } = tollgate;
const HISTORY_MS = 2 * 3_600_000; // virtual: the timeline's longest span plus its longest drawn window

const HEX_PROJECTS = ['revenue-daily', 'churn-model', 'ops-dashboard', 'marketing-funnel', 'inventory-forecast',
  'finance-close', 'support-sla', 'growth-cohorts', 'pricing-tests', 'data-quality', 'exec-weekly', 'partner-payouts',
  'ab-readout', 'feature-store'];
const SCH_KEYS = ['sch-worker-1-key', 'sch-worker-2-key'];

/**
 * Jobs that arrive in batches, on the dashboard's clock, through one rateLimitedFetch per API:
 * - Hex: a CI token triggers 10 projects every 8 min (75/h, above the 60/h quota, so its
 *   queue grows until the scheduler skips batches) and an analyst token 2 every 5 min;
 * - Hexagraph: a burst of 34 GraphQL queries every hour and a REST read every 10 min
 *   (960 a day: the minute window throttles each burst, the day window fills slowly);
 * - SecureCodingHub: 70 reads every 3 min over a pool of two keys, each request with the
 *   key free soonest.
 * Every run Hex accepts goes into the weekly usage monitor (hex-cost-tuning).
 *
 * With `store` (a worker of `npm start -- --redis`, see worker.mjs), every scope's quota lives in
 * that store, shared with the other workers; `keySecret` is then the workers' common one, so a
 * scope has the same id (hashed key) in all of them, and `leaseMs` how long a request in flight
 * holds its units at most; `onRun(projectId)` hears each accepted run.
 * `onServerLog(apiId, entries)` sees the servers' log entries before they are counted and dropped.
 */
export function createPipeline({ timers, speed, hex, hexagraph, sch, store, leaseMs, keySecret, onRun, onServerLog }) {
  const stopping = new AbortController();
  const pending = new Map(); // AbortController -> the call
  const stats = new Map();
  let fresh = [];
  const usage = new UsageMonitor({ weeklyBudget: 500, thresholds: [0.8, 1], clock: timers });
  const alerts = [];
  usage.addEventListener('alert', (e) => alerts.push(e.detail));

  const apis = [
    api('hex', 'Hex Run API', hex, presets.hex({ url: `${hex.url}/api/v1/run/:projectId` }),
      'run triggers: 20 a minute AND 60 an hour, per API token'),
    api('hexagraph', 'Hexagraph', hexagraph, presets.hexagraph({ url: `${hexagraph.url}/*` }),
      '30 a minute AND 1,000 a day, per IP'),
    api('sch', 'SecureCodingHub', sch, presets.secureCodingHub({ url: `${sch.url}/*`, headroom: 10, keys: SCH_KEYS }),
      '60 a calendar minute AND 1,000 a sliding hour, per key (tollgate keeps 10 a minute spare)'),
  ];
  const [hexApi, graphApi, schApi] = apis;

  function api(id, title, server, options, quota) {
    const limited = rateLimitedFetch(fetch, { ...options, clock: timers, ...(store ? { store, keySecret, ...(leaseMs === undefined ? {} : { leaseMs }) } : {}) });
    for (const type of ['queued', 'admitted', 'throttled', 'retry', 'paused', 'gave-up']) {
      limited.events.addEventListener(type, (e) => onEvent(id, type, e.detail));
    }
    return { id, title, quota, url: server.url, server, fetch: limited, statuses: {}, errors: 0, skipped: 0, seen: { accepted: 0, refused: 0, other: 0 } };
  }

  function statsOf(apiId, route, key) {
    const id = `${apiId}|${route}|${key}`;
    let s = stats.get(id);
    if (s === undefined) {
      s = { id, admitted: 0, held: 0, retried: 0, refused: 0, gaveUp: 0, pause: null, sent: [], refusedAt: [], retriedAt: [] };
      stats.set(id, s);
    }
    return s;
  }

  function onEvent(apiId, type, d) {
    const s = statsOf(apiId, d.route, d.key);
    if (type === 'queued') s.held++;
    else if (type === 'admitted') {
      s.admitted++;
      s.sent.push(d.at);
      fresh.push({ scope: s.id, kind: 'sent', at: d.at });
    } else if (type === 'throttled') {
      s.refused++;
      s.refusedAt.push(d.at);
      fresh.push({ scope: s.id, kind: 'refused', at: d.at });
    } else if (type === 'retry') {
      s.retried++;
      s.retriedAt.push(d.at);
      fresh.push({ scope: s.id, kind: 'retried', at: d.at });
    } else if (type === 'paused') s.pause = { until: d.until, status: d.status, reason: d.reason };
    else if (type === 'gave-up') s.gaveUp++;
  }

  // One controller per request, aborted on stop: Node's fetch keeps a listener on
  // the signal of every request until it is garbage-collected, so one signal shared
  // by thousands of requests would pile them up.
  function send(a, path, init, onStatus) {
    const controller = new AbortController();
    const call = a.fetch(`${a.url}${path}`, { ...init, signal: controller.signal })
      .then(async (res) => {
        a.statuses[res.status] = (a.statuses[res.status] ?? 0) + 1;
        onStatus?.(res.status);
        await res.body?.cancel();
      })
      .catch((error) => {
        if (stopping.signal.aborted) return;
        a.errors++;
        a.lastError = `${error?.name ?? 'Error'}: ${error?.message ?? error}`;
      })
      .finally(() => pending.delete(controller));
    pending.set(controller, call);
  }

  const waiting = (a) => a.fetch.scopes().reduce((n, s) => n + s.limiter.waiting, 0);

  function every(periodMs, job) {
    let handle;
    const run = () => {
      if (stopping.signal.aborted) return;
      job();
      handle = timers.setTimeout(run, periodMs);
    };
    handle = timers.setTimeout(run, 0);
    stopping.signal.addEventListener('abort', () => timers.clearTimeout(handle));
  }

  function trigger(token, projectId) {
    send(hexApi, `/api/v1/run/${projectId}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputParams: { source: 'dashboard' } }),
    }, (status) => {
      if (status !== 201) return;
      usage.record(projectId);
      onRun?.(projectId);
    });
  }

  // Earlier projects are picked more often, so some run far more than others in a week.
  const pick = (n, from) => {
    const left = [...from];
    const out = [];
    while (out.length < n && left.length > 0) {
      const i = Math.min(left.length - 1, Math.floor(left.length * Math.random() ** 2));
      out.push(left.splice(i, 1)[0]);
    }
    return out;
  };

  every(8 * 60_000, () => {
    if (waiting(hexApi) >= 25) return void hexApi.skipped++;
    for (const p of pick(10, HEX_PROJECTS)) trigger('hex-token-ci', p);
  });
  every(5 * 60_000, () => {
    for (const p of pick(2, HEX_PROJECTS.slice(8))) trigger('hex-token-analyst', p);
  });
  every(60 * 60_000, () => {
    if (waiting(graphApi) >= 40) return void graphApi.skipped++;
    for (let i = 0; i < 34; i++) {
      send(graphApi, '/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ projects { id } }"}' });
    }
  });
  every(10 * 60_000, () => send(graphApi, '/api/datasets', {}));
  every(3 * 60_000, () => {
    if (waiting(schApi) >= 100) return void schApi.skipped++;
    for (let i = 0; i < 70; i++) send(schApi, `/api/v1/findings?page=${i}`, {});
  });

  function state(now) {
    const report = usage.report({ overRunsPerWeek: 20 });
    return {
      now,
      speed,
      apis: apis.map((a) => ({
        id: a.id, title: a.title, quota: a.quota, url: a.url, server: a.server.log ? serverSeen(a.id, a.server, a.seen, onServerLog) : a.seen, statuses: a.statuses,
        errors: a.errors, lastError: a.lastError, skipped: a.skipped,
        scopes: a.fetch.scopes().map((scope) => {
          const s = statsOf(a.id, scope.route, scope.key);
          const l = scope.limiter;
          const windows = store ? sharedViews.get(l) ?? [] : windowViews(Limiter, l.snapshot(), now);
          return {
            id: s.id, route: scope.route, key: scope.key, windows,
            configured: scope.configured.map(plainWindow), learned: scope.learned.map(plainWindow),
            pausedUntil: l.pausedUntil, pause: s.pause, waiting: l.waiting, inFlight: l.inFlight,
            counts: { admitted: s.admitted, held: s.held, retried: s.retried, refused: s.refused, gaveUp: s.gaveUp },
          };
        }),
      })),
      usage: { ...report, overRunsPerWeek: 20, alerts },
    };
  }

  // A shared scope's windows are in the store: its usage, read once per tick (one round trip each).
  const sharedViews = new WeakMap(); // limiter -> views: a scope the wrapper dropped takes its entry along
  async function readShared() {
    const scopes = apis.flatMap((a) => a.fetch.scopes());
    await Promise.all(scopes.map(async ({ limiter }) => {
      const usage = await limiter.usage().catch(() => undefined); // a failed read keeps the last one
      if (usage === undefined) return;
      sharedViews.set(limiter, usage.map((w) => ({
        kind: w.kind, limit: w.limit, perMs: w.perMs, used: w.used, remaining: w.remaining,
        // The store says when one more fits, not when the next slot frees: only a full window's is shown.
        nextFreeAt: w.remaining === 0 && Number.isFinite(w.nextFreeAt) ? w.nextFreeAt : undefined,
      })));
    }));
  }

  function prune(now) {
    const from = now - HISTORY_MS;
    for (const s of stats.values()) {
      for (const list of [s.sent, s.refusedAt, s.retriedAt]) {
        let i = 0;
        while (i < list.length && list[i] <= from) i++;
        if (i > 0) list.splice(0, i);
      }
    }
  }

  return {
    hello() {
      const now = timers.now();
      const history = {};
      for (const s of stats.values()) history[s.id] = { sent: s.sent, refused: s.refusedAt, retried: s.retriedAt };
      return { ...state(now), events: [], history };
    },
    /** With a store: reads each shared scope's usage, then ticks. */
    async tickShared() {
      await readShared();
      return this.tick();
    },
    tick() {
      const now = timers.now();
      prune(now);
      const events = fresh;
      fresh = [];
      return { ...state(now), events };
    },
    async stop() {
      stopping.abort();
      const calls = [...pending.values()];
      for (const controller of pending.keys()) controller.abort();
      await Promise.allSettled(calls);
      if (store) await Promise.allSettled(apis.flatMap((a) => a.fetch.scopes().map((scope) => scope.limiter.close())));
    },
  };
}

/** A scope's window as the page shows it (a configured one also carries its offset: not shown). */
const plainWindow = ({ limit, perMs, kind }) => ({ limit, perMs, kind });

/**
 * What a server itself logged (`seen`: accepted, refused (429), other, updated);
 * `onLog(apiId, entries)` sees the entries first (tests judge by them).
 */
export function serverSeen(apiId, server, seen, onLog) {
  const log = server.log;
  if (onLog && log.length > 0) onLog(apiId, log.slice());
  for (const e of log) {
    if (e.status >= 200 && e.status < 300) seen.accepted++;
    else if (e.status === 429) seen.refused++;
    else seen.other++;
  }
  log.length = 0; // counted: a long run must not keep every request in memory
  return { ...seen };
}
