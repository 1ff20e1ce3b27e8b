// `npm start`: the dashboard. One HTTP server on 127.0.0.1 serves the page (www/) and the
// package's browser build (js/dist, pkg/web), streams a live pipeline's limiter state as
// Server-Sent Events (/events), and answers the page's playground (/clock, /mock/*). The
// pipeline is Node code driving the three seed-like API servers (tests/servers, each on its
// own port; the page never calls them) through rateLimitedFetch with tollgate's presets. The
// servers, the pipeline and the mock share one accelerated clock: at --speed 60 an hour of
// quota time passes in a real minute.
//
//   node www/serve.mjs [--port 8080] [--speed 60] [--redis redis://127.0.0.1:6379 [--workers 3]]
//
// With --redis, the pipeline runs as --workers child processes sharing every quota through
// that Redis (server/workers.mjs, server/worker.mjs), on one quota clock all of them read
// alike (server/shared-clock.mjs); the page then shows each worker's part.
//
// Tests start it in-process: `const d = await startDashboard({ port: 0, speed: 600 })`.
// Split by concern: server/static.mjs (files), server/mock.mjs (the playground's API),
// server/pipeline.mjs (the live pipeline), server/flags.mjs (the command line).
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { acceleratedClock, startHexServer, startHexagraphServer, startSecureCodingHubServer } from '../tests/servers/index.mjs';
import { parseFlags, redisLabel } from './server/flags.mjs';
import { createMock } from './server/mock.mjs';
import { createPipeline } from './server/pipeline.mjs';
import { quotaTimers, sharedAcceleratedClock, wallClockMs } from './server/shared-clock.mjs';
import { sendJson, serveStatic } from './server/static.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));

const TICK_MS = 250; // real ms between two state messages on /events

/**
 * Starts everything; resolves when it listens. A taken port rejects with the
 * listen error (`code: 'EADDRINUSE'`) before anything else is started.
 * `redis` (a URL) and `workers`: the pipeline as that many worker processes
 * sharing the quotas through that Redis; an unreachable Redis rejects with
 * `code: 'REDIS_UNREACHABLE'`. `onServerLog(apiId, entries)`: the seed-like
 * servers' log entries, before the dashboard counts and drops them (tests).
 * `serverOptions`: `{ hex, hexagraph, sch }`, options of each seed-like server
 * (tests: e.g. `{ sch: { perMinute: 30 } }`, a server stricter than its preset).
 */
export async function startDashboard({ port = 8080, host = '127.0.0.1', speed = 60, pipeline: withPipeline = true, redis, workers = 3, onServerLog, serverOptions = {} } = {}) {
  if (!existsSync(join(repo, 'js/dist/browser.js')) || !existsSync(join(repo, 'pkg/web/tollgate_core.wasm'))) {
    throw new Error('the package is not built (js/dist, pkg/web): run `npm run build` first');
  }
  if (redis !== undefined && !(Number.isInteger(workers) && workers >= 1 && workers <= 16)) {
    throw new TypeError(`\`workers\` must be a whole number from 1 to 16; got ${String(workers)}`);
  }
  let clock;
  if (redis === undefined) {
    clock = acceleratedClock({ startMs: Date.now(), speed });
  } else {
    // Read alike by every worker process (see server/shared-clock.mjs).
    const realStartMs = wallClockMs();
    clock = sharedAcceleratedClock({ startMs: Math.floor(realStartMs), realStartMs, speed });
  }
  // tollgate's clock: the same time, and timers that run `speed` times fast too.
  const timers = quotaTimers(clock, speed);
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
    servers.hex = await startHexServer({ ...serverOptions.hex, clock, runDurationMs: 1_000 });
    servers.hexagraph = await startHexagraphServer({ ...serverOptions.hexagraph, clock });
    servers.sch = await startSecureCodingHubServer({ ...serverOptions.sch, clock });
    if (!withPipeline) pipeline = undefined;
    else if (redis === undefined) pipeline = createPipeline({ timers, speed, ...servers, onServerLog });
    else {
      // A quota namespace of its own: a restarted dashboard's clock starts over, so it must not meet the last one's quotas.
      const { startWorkers } = await import('./server/workers.mjs'); // ioredis is loaded only with --redis
      pipeline = await startWorkers({ count: workers, redis, clock, speed, servers, prefix: `tollgate-dashboard-${bootId}`, onServerLog });
    }
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

  return { url, port: server.address().port, speed, clock, bootId, mock, servers, workerPids: pipeline?.pids ?? [], close };
}

// ---------------------------------------------------------------- the command

async function main() {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.error) fail(flags.error);
  if (flags.help) return void console.log(flags.help);
  const { port, speed, redis, workers } = flags;

  let dashboard;
  try {
    dashboard = await startDashboard({ port, speed, redis, workers });
  } catch (error) {
    if (error.code === 'EADDRINUSE') {
      fail(`port ${port} on 127.0.0.1 is taken (another program, or another \`npm start\`, listens there).\n`
        + `Stop it, or choose another port: npm start -- --port ${port === 65535 ? 8081 : port + 1}`);
    }
    if (error.code === 'REDIS_UNREACHABLE') {
      fail(`--redis: ${error.message}; start redis-server there, or pass the redis:// URL of one that runs (or leave --redis out)`);
    }
    fail(redis ? `--redis: ${error.message}` : error.message);
  }
  const { hex, hexagraph, sch } = dashboard.servers;
  const shared = redis === undefined ? ''
    : `\n  ${workers} worker process${workers === 1 ? '' : 'es'} (pids ${dashboard.workerPids.join(', ')}) sharing the quotas through Redis at ${redisLabel(redis)}`;
  console.log(`tollgate dashboard: ${dashboard.url}/

  quota clock x${speed}${speed === 60 ? ' (an hour passes in a minute)' : ''}
  seed-like APIs (strict; driven by the pipeline): Hex ${hex.url}, Hexagraph ${hexagraph.url}, SecureCodingHub ${sch.url}${shared}

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
