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
import { systemClock } from './clock.mjs';
import { serve } from './http.mjs';
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
  clockLatencyMs, // optional (req, path) => number: delay on the injected clock (see http.mjs)
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

  const internalError = (err) => ({ error: 'Internal Server Error', message: String(err?.message ?? err), statusCode: 500 });
  const handle = await serve({ clock, host, port, latencyMs, clockLatencyMs, route, internalError });
  return { ...handle, quota };
}
