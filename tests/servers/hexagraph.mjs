// A fake Hexagraph API enforcing shared/seeds/hexagraph-rate-limits.txt: per client IP,
// 30 requests per minute AND 1,000 per day, tracked independently, on all REST and GraphQL
// (POST /graphql) requests. The seed does not say how the windows move; here both are strict
// sliding logs (a request counts for exactly 60_000 ms / 86_400_000 ms after its arrival),
// the strictest reading, so a client that passes here passes a fixed-window server too.
//
// Assumptions (the seed does not say):
// - GET /rate-limit is NOT counted: it is the documented way to "check headroom before large
//   batches", and reading it must not change what it reports. It answers even when limited.
// - Refused (429) requests are not counted. 429 has no Retry-After (none is documented): the
//   client is expected to back off exponentially.
// - The client address is the first X-Forwarded-For entry when present (so tests can
//   simulate several IPs over one loopback connection), else the socket address.
import http from 'node:http';
import { systemClock } from './clock.mjs';
import { Quota, slidingLog } from './quota.mjs';

const MINUTE = 60_000;
const DAY = 86_400_000;

export async function startHexagraphServer({
  clock = systemClock,
  port = 0,
  host = '127.0.0.1',
  perMinute = 30,
  perDay = 1000,
  latencyMs, // optional () => number: real-time delay before responding (does not move arrival time)
} = {}) {
  const quota = new Quota({ minute: () => slidingLog(perMinute, MINUTE), day: () => slidingLog(perDay, DAY) });

  function clientAddress(req) {
    const xff = req.headers['x-forwarded-for'];
    const first = typeof xff === 'string' ? xff.split(',')[0].trim() : '';
    const addr = first || req.socket.remoteAddress || 'unknown';
    return addr.startsWith('::ffff:') ? addr.slice(7) : addr; // IPv4-mapped IPv6 -> plain IPv4
  }

  function route(req, at, path) {
    const ip = clientAddress(req);
    if (req.method === 'GET' && path === '/rate-limit') {
      const u = quota.usage(ip, at);
      // Exactly the documented shape, nothing else.
      return {
        key: ip,
        status: 200,
        body: { rateLimit: { minute: { current: u.minute.current, limit: u.minute.limit }, day: { current: u.day.current, limit: u.day.limit } } },
      };
    }
    const d = quota.take(ip, at);
    if (!d.ok) {
      return {
        key: ip,
        status: 429,
        window: d.window,
        body: { error: 'Too Many Requests', message: 'Rate limit exceeded. Please wait before sending additional requests.', statusCode: 429 },
      };
    }
    if (req.method === 'POST' && path === '/graphql') return { key: ip, status: 200, body: { data: {} } };
    if (req.method === 'GET') return { key: ip, status: 200, body: { data: [], path } };
    // Still counted above: the limit applies to every request that reaches the API.
    return { key: ip, status: 404, body: { error: 'Not Found', message: `Cannot ${req.method} ${path}`, statusCode: 404 } };
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
      r = { status: 500, body: { error: 'Internal Server Error', message: String(err?.message ?? err), statusCode: 500 } };
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
