// A fake SecureCodingHub API enforcing shared/seeds/securecodinghub-rate-limits.txt, per API
// key (Authorization: Bearer): 60 per calendar minute (UTC, fixed buckets aligned to the Unix
// epoch: 13:42:59 and 13:43:01 are different buckets) AND 1,000 per true sliding hour.
// Both windows are checked on every request, all-or-nothing.
//
// A refusal is 429 {"error":"rate_limited"} with:
// - Retry-After: the smallest safe delay in whole seconds, rounded UP from the exact instant
//   every window has room again (next minute boundary, and/or when the oldest counted request
//   in the hour leaves it). Measured from the request's arrival, so it stays safe whatever the
//   response latency. Never 0: a refused request always has a strictly later retry instant.
// - X-RateLimit-Window / X-RateLimit-Limit: the window that determines Retry-After (when both
//   trip, the one that frees up last; on a tie, per_minute).
//
// Assumptions (the seed does not say): refused requests are not counted; every authenticated
// request counts whatever its path or method; a missing key is 401 {"error":"unauthorized"}.
import http from 'node:http';
import { systemClock } from './clock.mjs';
import { Quota, fixedBuckets, slidingLog } from './quota.mjs';

const MINUTE = 60_000;
const HOUR = 3_600_000;

export async function startSecureCodingHubServer({
  clock = systemClock,
  port = 0,
  host = '127.0.0.1',
  perMinute = 60,
  perHour = 1000,
  latencyMs, // optional () => number: real-time delay before responding (does not move arrival time)
} = {}) {
  // Names double as the X-RateLimit-Window header values.
  const quota = new Quota({ per_minute: () => fixedBuckets(perMinute, MINUTE), per_hour: () => slidingLog(perHour, HOUR) });

  function route(req, at, path) {
    const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!auth) return { status: 401, body: { error: 'unauthorized' } };
    const key = auth[1];
    const d = quota.take(key, at);
    if (!d.ok) {
      return {
        key,
        status: 429,
        window: d.window,
        headers: {
          'retry-after': String(Math.ceil((d.retryAtMs - at) / 1000)),
          'x-ratelimit-window': d.window,
          'x-ratelimit-limit': String(d.limit),
        },
        body: { error: 'rate_limited' },
      };
    }
    if (req.method === 'GET') return { key, status: 200, body: { ok: true, path } };
    return { key, status: 405, body: { error: 'method_not_allowed' } };
  }

  const handle = await serve({ clock, host, port, latencyMs, route });
  return { ...handle, quota };
}

// ---- HTTP harness (kept per file on purpose: each server module stands alone) ----------

async function serve({ clock, host, port, latencyMs, route }) {
  const log = [];
  const timers = new Set();
  const server = http.createServer((req, res) => {
    const at = clock.now(); // arrival time: taken before the body is read or any latency
    req.resume(); // bodies are not needed; drain them so keep-alive sockets stay usable
    const path = (req.url ?? '/').split('?')[0];
    let r;
    try {
      r = route(req, at, path);
    } catch (err) {
      r = { status: 500, body: { error: 'internal_error', message: String(err?.message ?? err) } };
    }
    log.push({
      at, method: req.method, path, key: r.key ?? null, status: r.status,
      idempotencyKey: r.idempotencyKey ?? null, duplicate: r.duplicate === true, window: r.window ?? null,
    });
    const send = () => {
      timers.delete(timer);
      if (res.destroyed) return;
      res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
      res.end(JSON.stringify(r.body));
    };
    const delay = latencyMs ? Math.max(0, Number(latencyMs()) || 0) : 0;
    let timer = null;
    if (delay > 0) timers.add((timer = setTimeout(send, delay)));
    else send();
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${server.address().port}`;
  return {
    url,
    log,
    server,
    stats: () => stats(log),
    close: () => new Promise((resolve) => {
      for (const t of timers) clearTimeout(t); // pending delayed responses would keep the loop alive
      timers.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

// accepted = 2xx answers, refused = 429 answers; byStatus counts every status code.
function stats(log) {
  const byStatus = {};
  for (const e of log) byStatus[e.status] = (byStatus[e.status] ?? 0) + 1;
  const accepted = log.filter((e) => e.status >= 200 && e.status < 300).length;
  return { accepted, refused: byStatus[429] ?? 0, byStatus };
}
