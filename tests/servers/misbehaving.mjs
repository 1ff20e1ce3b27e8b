// A scripted misbehaving server: one server, many failure modes, chosen by PATH, so a client's
// retry / Retry-After / reset handling can be tested end to end over real HTTP.
//
//   const s = await startMisbehavingServer({ clock });     // { url, log, server, stats(), close(), reset() }
//   await fetch(`${s.url}/retry-after-seconds?s=2&n=1`)     // 429 Retry-After: 2
//   await fetch(`${s.url}/retry-after-seconds?s=2&n=1`)     // 200
//   s.log.map((e) => e.attempt)                             // [1, 2]
//
// Counters: every request increments a counter for its PATH (query string ignored), so
// "the first N requests misbehave" means the first N requests to that path since start or
// /_reset. With `?id=X` the counter is (path, X) instead, so concurrent tests can use unique
// ids on the same path. Each request's count (1-based) is its `attempt`.
//
// Log entries: { at, method, path, status, idempotencyKey, attempt, id }
//   at: clock.now() at arrival; status: null for /reset's destroyed sockets (no response),
//   200 for /reset-mid-body's cut responses; idempotencyKey: the Idempotency-Key header or null;
//   id: the ?id= value or null. /_reset itself is not logged.
// stats(): { accepted (2xx), refused (429), byStatus (responses only), resets (status null) }.
//
// Every response carries `Date` from the injected clock (not the real one), so a client can
// compare Retry-After dates against server time even on a manualClock.
// Bad parameters (e.g. n=abc) answer 400 {error:'bad_request', message} rather than guessing.
//
// Paths (all methods; n defaults to 1, s to 1):
//   /ok                               200 {ok:true}
//   /retry-after-seconds?s=K&n=N      first N: 429 Retry-After: K; then 200
//   /retry-after-date?s=K&n=N         first N: 429 Retry-After: IMF-fixdate of now + K s (K may be
//                                     negative), Date: now (both floored to the second, so the two
//                                     headers differ by exactly K s); then 200
//   /retry-after-garbage?n=N&v=VALUE  first N: 429 Retry-After: VALUE (url-decoded, default "soon"); then 200
//   /retry-after-absurd?n=N           first N: 429 Retry-After: 604800 (a week); then 200
//   /unavailable?n=N&s=K              first N: 503 (Retry-After: K only if s is given); then 200
//   /error?n=N&status=S               first N: status S (200..599, default 500); then 200
//   /reset?n=N                        first N: socket reset before any response (TCP RST; fetch
//                                     rejects with TypeError 'fetch failed'); then 200
//   /reset-mid-body?n=N               first N: 200 headers (Content-Length of the full body) and
//                                     half the body, then the socket is destroyed; then 200
//   /slow?ms=K                        200 after K ms of real time (default 1000; close() cancels)
//   /jitter?max=K                     200 after a uniformly random 0..K ms of real time (default 100)
//   /headers?h-NAME=VALUE...          200 with response header NAME: VALUE for each h- param
//                                     (repeat a param for several values); names/values Node
//                                     refuses, and content-length/transfer-encoding/connection,
//                                     answer 400
//   /echo                             200 {method, headers, body} (request body as text)
//   /count-then-429?limit=L&s=K       first L: 200; then 429 Retry-After: K until /_reset (L default 1)
//   /_reset                           clears all counters and the log (with ?id=X: only that
//                                     id's counters and log entries); 200 {ok:true}
//   anything else                     404 {error:'not_found', path} (counted and logged)
import http from 'node:http';
import { systemClock } from './clock.mjs';
import { serve, stats as summarize } from './http.mjs';

const WEEK_S = 604_800;
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection']);

class BadRequest extends Error {}

const imfDate = (ms) => new Date(ms).toUTCString(); // "Mon, 15 Jan 2024 09:00:00 GMT" (IMF-fixdate)

function intParam(q, name, def, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const raw = q.get(name);
  if (raw === null || raw === '') return def;
  if (!/^-?\d+$/.test(raw)) throw new BadRequest(`?${name}= must be an integer, got ${JSON.stringify(raw)}`);
  const v = Number(raw);
  if (!(v >= min && v <= max)) throw new BadRequest(`?${name}= must be in ${min}..${max}, got ${v}`);
  return v;
}

export async function startMisbehavingServer({ clock = systemClock, port = 0, host = '127.0.0.1' } = {}) {
  const counters = new Map(); // JSON [path, id] -> { id, count }
  let log = [];

  function reset(id = null) {
    if (id === null) {
      counters.clear();
      log.length = 0;
      return;
    }
    for (const [k, c] of counters) if (c.id === id) counters.delete(k);
    for (let i = log.length - 1; i >= 0; i--) if (log[i].id === id) log.splice(i, 1);
  }

  function behave(req, path, q, attempt, at, body) {
    const n = () => intParam(q, 'n', 1);
    const ok = { status: 200, body: { ok: true, attempt } };
    const refuse = (retryAfter) => ({ status: 429, headers: { 'retry-after': retryAfter }, body: { error: 'rate_limited', attempt } });
    switch (path) {
      case '/ok':
        return { status: 200, body: { ok: true } };
      case '/retry-after-seconds': {
        const s = intParam(q, 's', 1);
        return attempt <= n() ? refuse(String(s)) : ok;
      }
      case '/retry-after-date': {
        const s = intParam(q, 's', 1, { min: -1e9, max: 1e9 });
        const nowMs = Math.floor(at / 1000) * 1000;
        return attempt <= n() ? refuse(imfDate(nowMs + s * 1000)) : ok;
      }
      case '/retry-after-garbage': {
        const v = q.has('v') ? q.get('v') : 'soon';
        try {
          http.validateHeaderValue('retry-after', v);
        } catch (err) {
          throw new BadRequest(`?v= is not a value Node can send: ${err.message}`);
        }
        return attempt <= n() ? refuse(v) : ok;
      }
      case '/retry-after-absurd':
        return attempt <= n() ? refuse(String(WEEK_S)) : ok;
      case '/unavailable': {
        const s = q.has('s') ? intParam(q, 's', 1) : null;
        if (attempt > n()) return ok;
        return { status: 503, headers: s === null ? {} : { 'retry-after': String(s) }, body: { error: 'unavailable', attempt } };
      }
      case '/error': {
        const status = intParam(q, 'status', 500, { min: 200, max: 599 });
        return attempt <= n() ? { status, body: { error: 'scripted', status, attempt } } : ok;
      }
      case '/reset':
        if (attempt > n()) return ok;
        return {
          status: null,
          respond: (res) => {
            const socket = res.socket;
            if (typeof socket?.resetAndDestroy === 'function') socket.resetAndDestroy();
            else res.destroy();
          },
        };
      case '/reset-mid-body': {
        if (attempt > n()) return ok;
        const full = JSON.stringify({ ok: true, attempt, padding: 'x'.repeat(256) });
        return {
          status: 200,
          respond: (res) => {
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(full), date: imfDate(at) });
            // Destroy only once headers and the partial body are flushed, so the client sees a
            // 200 whose body then breaks (not a failed request).
            res.write(full.slice(0, full.length >> 1), () => res.destroy());
          },
        };
      }
      case '/slow': {
        const ms = intParam(q, 'ms', 1000);
        return { status: 200, body: { ok: true, attempt, ms }, delayMs: ms };
      }
      case '/jitter': {
        const max = intParam(q, 'max', 100);
        const ms = Math.floor(Math.random() * (max + 1));
        return { status: 200, body: { ok: true, attempt, ms }, delayMs: ms };
      }
      case '/headers': {
        const headers = {};
        for (const [k, v] of q) {
          if (!k.toLowerCase().startsWith('h-')) continue;
          const name = k.slice(2).toLowerCase();
          try {
            http.validateHeaderName(name);
            http.validateHeaderValue(name, v);
          } catch (err) {
            throw new BadRequest(`?${k}= cannot be sent as a header: ${err.message}`);
          }
          if (FRAMING_HEADERS.has(name)) throw new BadRequest(`?${k}=: ${name} is managed by the server`);
          headers[name] = name in headers ? [].concat(headers[name], v) : v;
        }
        return { status: 200, headers, body: { ok: true, attempt, headers } };
      }
      case '/echo':
        return { status: 200, body: { method: req.method, headers: req.headers, body } };
      case '/count-then-429': {
        const limit = intParam(q, 'limit', 1);
        const s = intParam(q, 's', 1);
        return attempt <= limit ? ok : refuse(String(s));
      }
      default:
        return { status: 404, body: { error: 'not_found', path } };
    }
  }

  function route(req, at, path, body) {
    const qi = (req.url ?? '').indexOf('?');
    const q = new URLSearchParams(qi < 0 ? '' : req.url.slice(qi + 1));
    const id = q.get('id');
    const rawIdem = req.headers['idempotency-key'];
    const idempotencyKey = typeof rawIdem === 'string' && rawIdem !== '' ? rawIdem : null;
    const date = imfDate(at);
    if (path === '/_reset') {
      reset(id);
      return { noLog: true, status: 200, headers: { date }, body: { ok: true } };
    }
    const scope = JSON.stringify([path, id]);
    const counter = counters.get(scope) ?? { id, count: 0 };
    counter.count += 1;
    counters.set(scope, counter);
    const attempt = counter.count;
    let r;
    try {
      r = behave(req, path, q, attempt, at, body);
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      r = { status: 400, body: { error: 'bad_request', message: err.message, attempt } };
    }
    return { ...r, headers: { date, ...r.headers }, attempt, id, idempotencyKey };
  }

  const logEntry = ({ at, method, path }, r) =>
    r.noLog ? null : { at, method, path, status: r.status ?? null, idempotencyKey: r.idempotencyKey ?? null, attempt: r.attempt ?? null, id: r.id ?? null };

  const handle = await serve({ clock, host, port, route, logEntry, readBody: true });
  log = handle.log;
  return {
    ...handle,
    reset: () => reset(null),
    stats: () => ({
      ...summarize(log.filter((e) => e.status !== null)),
      resets: log.filter((e) => e.status === null).length,
    }),
  };
}
