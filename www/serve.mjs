// `npm start`: the dashboard. One HTTP server on 127.0.0.1 serves the page (www/) and the
// package's browser build (js/dist, pkg/web), streams a live pipeline's limiter state as
// Server-Sent Events (/events), and answers the page's playground (/clock, /mock/*). The
// pipeline is Node code driving the three seed-like API servers (tests/servers, each on its
// own port; the page never calls them) through rateLimitedFetch with tollgate's presets. The
// servers, the pipeline and the mock share one accelerated clock: at --speed 60 an hour of
// quota time passes in a real minute.
//
//   node www/serve.mjs [--port 8080] [--speed 60]
//
// Tests start it in-process: `const d = await startDashboard({ port: 0, speed: 600 })`.
import { randomUUID } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tollgate from 'tollgate';
import {
  Quota, acceleratedClock, fixedBuckets, slidingLog, startHexServer, startHexagraphServer, startSecureCodingHubServer,
} from '../tests/servers/index.mjs';
import { UsageMonitor as FallbackUsageMonitor } from '../www/usage-monitor.js';
import { windowViews } from '../www/window-view.js';
import { formatWindows, parseWindows } from '../www/windows.js';

const { Limiter, presets, rateLimitedFetch } = tollgate;
const repo = fileURLToPath(new URL('..', import.meta.url));

/** URL prefix -> directory. Nothing else of the repo is served. */
const MOUNTS = [['/js/dist/', join(repo, 'js/dist')], ['/pkg/web/', join(repo, 'pkg/web')], ['/', join(repo, 'www')]];
const NODE_ONLY = new Set(['serve.mjs', 'screenshot.mjs'].map((f) => join(repo, 'www', f)));
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.ts': 'text/plain; charset=utf-8',
};
/** The page's policy, also sent as a header (a meta tag cannot set frame-ancestors). */
const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; style-src 'self'; img-src 'self'; "
  + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const TICK_MS = 250; // real ms between two state messages on /events
const HISTORY_MS = 2 * 3_600_000; // virtual: the timeline's longest span plus its longest drawn window

/**
 * Starts everything; resolves when it listens. A taken port rejects with the
 * listen error (`code: 'EADDRINUSE'`) before anything else is started.
 */
export async function startDashboard({ port = 8080, host = '127.0.0.1', speed = 60, pipeline: withPipeline = true } = {}) {
  if (!existsSync(join(repo, 'js/dist/browser.js')) || !existsSync(join(repo, 'pkg/web/tollgate_bg.wasm'))) {
    throw new Error('the package is not built (js/dist, pkg/web): run `npm run build` first');
  }
  const clock = acceleratedClock({ startMs: Date.now(), speed });
  // tollgate's clock: the same time, and timers that run `speed` times fast too.
  const timers = {
    now: clock.now,
    setTimeout: (callback, ms) => setTimeout(callback, Math.max(0, ms) / speed),
    clearTimeout: (handle) => clearTimeout(handle),
  };
  const bootId = randomUUID();
  const mock = createMock(clock);
  const sse = new Set();
  let pipeline;

  const server = http.createServer((req, res) => {
    const at = clock.now(); // arrival, for the mock's quota
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/events') return openEvents(req, res);
    if (path === '/clock') return sendJson(res, 200, { nowMs: clock.now(), speed, bootId });
    if (path.startsWith('/mock/')) return mock.handle(req, res, at);
    if (req.method !== 'GET' && req.method !== 'HEAD') return res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return serveStatic(req, res, path);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const url = `http://${host}:${server.address().port}`;

  const servers = {};
  let ticker;
  const close = async () => {
    clearInterval(ticker);
    await pipeline?.stop();
    for (const res of sse) res.end();
    sse.clear();
    await Promise.all(Object.values(servers).map((s) => s.close()));
    await new Promise((ok) => {
      server.close(ok);
      server.closeAllConnections();
    });
  };
  try {
    servers.hex = await startHexServer({ clock, runDurationMs: 1_000 });
    servers.hexagraph = await startHexagraphServer({ clock });
    servers.sch = await startSecureCodingHubServer({ clock });
    pipeline = withPipeline ? createPipeline({ timers, speed, ...servers }) : undefined;
  } catch (error) {
    await close();
    throw error;
  }

  const quiet = () => ({ now: clock.now(), speed, apis: [], usage: null, events: [] });
  ticker = setInterval(() => {
    if (sse.size === 0) {
      pipeline?.tick(); // keeps the history pruned and the event buffer short
      return;
    }
    const data = JSON.stringify(pipeline ? pipeline.tick() : quiet());
    for (const res of sse) res.write(`event: tick\ndata: ${data}\n\n`);
  }, TICK_MS);

  function openEvents(req, res) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' });
    res.write(`retry: 1000\n\nevent: hello\ndata: ${JSON.stringify(pipeline ? pipeline.hello() : quiet())}\n\n`);
    sse.add(res);
    req.on('close', () => sse.delete(res));
  }

  return { url, port: server.address().port, speed, clock, bootId, mock, servers, close };
}

// ---------------------------------------------------------------- static files

function serveStatic(req, res, path) {
  const [prefix, dir] = MOUNTS.find(([p]) => path.startsWith(p));
  let rel;
  try {
    rel = decodeURIComponent(path.slice(prefix.length)) || 'index.html';
  } catch {
    return res.writeHead(400).end();
  }
  const file = resolve(dir, rel.endsWith('/') ? `${rel}index.html` : rel);
  if (file !== dir && !file.startsWith(dir + sep)) return res.writeHead(403).end();
  // The Node scripts beside the page are not part of it.
  if (NODE_ONLY.has(file)) return res.writeHead(404).end();
  let size;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    return res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
  }
  const type = TYPES[extname(file)] ?? 'application/octet-stream';
  res.writeHead(200, {
    'content-type': type, 'content-length': size, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer', ...(type.startsWith('text/html') ? { 'content-security-policy': CSP } : {}),
  });
  if (req.method === 'HEAD') return res.end();
  createReadStream(file).pipe(res);
}

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}

// ---------------------------------------------------------------- the playground's mock API

/**
 * `ANY /mock/...` with `Authorization: Bearer <key>` and `X-Mock-Windows: 20/1m, 60/1h`:
 * a strict server for those windows per key (sliding logs, or calendar buckets for
 * `fixed`), judged at arrival on the dashboard's clock. 201, or 429 with Retry-After
 * in (virtual) seconds. `log` keeps every answer: `{ at, key, windows, status }`.
 */
function createMock(clock) {
  const quotas = new Map();
  const log = [];
  function quotaFor(windows) {
    const name = formatWindows(windows);
    let quota = quotas.get(name);
    if (quota === undefined) {
      if (quotas.size >= 100) quotas.delete(quotas.keys().next().value);
      const make = (w) => () => (w.kind === 'fixed' ? fixedBuckets(w.limit, w.perMs) : slidingLog(w.limit, w.perMs));
      quota = new Quota(Object.fromEntries(windows.map((w, i) => [`w${i}`, make(w)])));
      quotas.set(name, quota);
    }
    return { name, quota };
  }
  return {
    log,
    handle(req, res, at) {
      req.resume();
      const key = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      if (key === undefined) return sendJson(res, 401, { error: 'unauthorized' });
      let windows;
      try {
        windows = parseWindows(String(req.headers['x-mock-windows'] ?? ''));
      } catch (error) {
        return sendJson(res, 400, { error: 'bad_windows', message: error.message });
      }
      const { name, quota } = quotaFor(windows);
      const d = quota.take(key, at);
      if (log.length >= 100_000) log.splice(0, 50_000);
      log.push({ at, key, windows: name, status: d.ok ? 201 : 429 });
      if (d.ok) return sendJson(res, 201, { accepted: true, at });
      return sendJson(res, 429, { error: 'rate_limited' }, {
        'retry-after': String(Math.max(1, Math.ceil((d.retryAtMs - at) / 1000))), 'x-ratelimit-window': d.window,
        'x-ratelimit-limit': String(d.limit),
      });
    },
  };
}

// ---------------------------------------------------------------- the live pipeline

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
 */
function createPipeline({ timers, speed, hex, hexagraph, sch }) {
  const stopping = new AbortController();
  const pending = new Map(); // AbortController -> the call
  const stats = new Map();
  let fresh = [];
  const UsageMonitor = tollgate.UsageMonitor ?? FallbackUsageMonitor;
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
    const limited = rateLimitedFetch(fetch, { ...options, clock: timers });
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
      .catch(() => {
        if (!stopping.signal.aborted) a.errors++;
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
      if (status === 201) usage.record(projectId);
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

  /** What the servers themselves logged: accepted, refused (429), other. */
  function serverSeen(a) {
    const log = a.server.log;
    for (const e of log) {
      if (e.status >= 200 && e.status < 300) a.seen.accepted++;
      else if (e.status === 429) a.seen.refused++;
      else a.seen.other++;
    }
    log.length = 0; // counted: a long run must not keep every request in memory
    return { ...a.seen };
  }

  function state(now) {
    const report = usage.report({ overRunsPerWeek: 20 });
    return {
      now,
      speed,
      apis: apis.map((a) => ({
        id: a.id, title: a.title, quota: a.quota, url: a.url, server: serverSeen(a), statuses: a.statuses,
        errors: a.errors, skipped: a.skipped,
        scopes: a.fetch.scopes().map((scope) => {
          const s = statsOf(a.id, scope.route, scope.key);
          const l = scope.limiter;
          return {
            id: s.id, route: scope.route, key: scope.key, windows: windowViews(Limiter, l.snapshot(), now),
            pausedUntil: l.pausedUntil, pause: s.pause, waiting: l.waiting, inFlight: l.inFlight,
            counts: { admitted: s.admitted, held: s.held, retried: s.retried, refused: s.refused, gaveUp: s.gaveUp },
          };
        }),
      })),
      usage: { ...report, overRunsPerWeek: 20, alerts, monitor: tollgate.UsageMonitor ? 'tollgate' : 'www/usage-monitor.js' },
    };
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
    },
  };
}

// ---------------------------------------------------------------- the command

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: { port: { type: 'string', default: '8080' }, speed: { type: 'string', default: '60' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    // One line in our words, not parseArgs' stack trace.
    const flag = /'(-[^' ]+)/.exec(error.message)?.[1] ?? '';
    const what = error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `unknown option '${flag}'; it takes --port, --speed, --help`
      : error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ? `${flag} needs a value`
        : error.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' ? `unexpected argument '${/'([^']+)'/.exec(error.message)?.[1]}'`
          : error.message.split('\n')[0];
    fail(`${what} (see 'node www/serve.mjs --help')`);
  }
  if (values.help) {
    console.log('usage: node www/serve.mjs [--port 8080] [--speed 60]\n  --speed: how many times faster than real time the quota clock runs (60: an hour in a minute)');
    return;
  }
  const port = Number(values.port);
  const speed = Number(values.speed);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be a whole number from 0 to 65535; got ${values.port}`);
  if (!(speed >= 1 && speed <= 100_000)) fail(`--speed must be from 1 to 100000; got ${values.speed}`);

  let dashboard;
  try {
    dashboard = await startDashboard({ port, speed });
  } catch (error) {
    if (error.code === 'EADDRINUSE') {
      fail(`port ${port} on 127.0.0.1 is taken (another program, or another \`npm start\`, listens there).\n`
        + `Stop it, or choose another port: npm start -- --port ${port === 65535 ? 8081 : port + 1}`);
    }
    fail(error.message);
  }
  const { hex, hexagraph, sch } = dashboard.servers;
  console.log(`tollgate dashboard: ${dashboard.url}/

  quota clock x${speed}${speed === 60 ? ' (an hour passes in a minute)' : ''}
  seed-like APIs (strict; driven by the pipeline): Hex ${hex.url}, Hexagraph ${hexagraph.url}, SecureCodingHub ${sch.url}

Ctrl-C to stop.`);

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping`);
    const force = setTimeout(() => process.exit(1), 5_000);
    force.unref();
    await dashboard.close();
    process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function fail(message) {
  console.error(`tollgate: ${message}`);
  process.exit(1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
