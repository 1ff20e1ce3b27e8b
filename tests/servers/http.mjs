// The HTTP harness shared by the test servers: listen on host:port (127.0.0.1, port 0 = any
// free port), time each request's arrival on the injected clock, log it, optionally delay the
// response in REAL time, and close promptly (pending delayed responses and keep-alive sockets
// do not hold close() or the event loop).
//
// A server supplies `route(req, at, path, body)` returning a plain description of the answer:
//   { status, body, headers?, delayMs?, respond?(res, req), ...anything its logEntry reads }
// - `at` is clock.now() when the request event fired (before the body is read or any latency).
// - `path` is req.url without the query string (not percent-decoded).
// - `body` is the request body as UTF-8 text when serve() was given `readBody: true`, else
//   undefined (the body is drained unread so keep-alive sockets stay usable).
// - `body` of the answer is sent as JSON with content-type application/json unless `headers`
//   overrides it; `delayMs` (real ms) replaces the server-wide `latencyMs()` for this answer;
//   `respond(res, req)` replaces the default writeHead/end entirely (used to reset sockets or
//   cut a body short).
// If route throws, the answer is 500 with body `internalError(err)`.
import http from 'node:http';

/** The log entry the quota servers (Hex, Hexagraph, SecureCodingHub) record. */
export function quotaLogEntry({ at, method, path }, r) {
  return {
    at, method, path, key: r.key ?? null, status: r.status,
    idempotencyKey: r.idempotencyKey ?? null, duplicate: r.duplicate === true, window: r.window ?? null,
  };
}

const defaultInternalError = (err) => ({ error: 'internal_error', message: String(err?.message ?? err) });

export async function serve({
  clock,
  host = '127.0.0.1',
  port = 0,
  latencyMs, // optional () => number: real-time delay before responding (does not move arrival time)
  // optional (req, path) => number: delay before responding on the injected clock (it needs
  // setTimeout/clearTimeout, as tests/js/fake-clock.mjs has), so virtual time passes while a
  // request is in flight and the response arrives later than the request did.
  clockLatencyMs,
  route,
  internalError = defaultInternalError, // (err) => JSON body of the 500 sent when route throws
  logEntry = quotaLogEntry, // ({ at, method, path }, answer) => entry, or null to leave it out of the log
  readBody = false,
}) {
  const log = [];
  const timers = new Set();
  const clockTimers = new Set(); // responses waiting for the injected clock

  function handle(req, res, at, path, body) {
    let r;
    try {
      r = route(req, at, path, body);
    } catch (err) {
      r = { status: 500, body: internalError(err) };
    }
    const entry = logEntry({ at, method: req.method, path }, r);
    if (entry) log.push(entry);
    let timer = null;
    const send = () => {
      timers.delete(timer);
      if (res.destroyed) return;
      try {
        if (r.respond) {
          r.respond(res, req);
        } else {
          // Date from the server's own (injected) clock, as a real server's would be.
          res.writeHead(r.status, { 'content-type': 'application/json', date: new Date(clock.now()).toUTCString(), ...r.headers });
          res.end(JSON.stringify(r.body));
        }
      } catch (err) {
        // E.g. a header value Node refuses: answer 500 rather than crash the test process.
        try {
          if (res.headersSent) throw err;
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify(internalError(err)));
        } catch {
          res.destroy();
        }
      }
    };
    const virtual = clockLatencyMs ? Math.max(0, Number(clockLatencyMs(req, path)) || 0) : 0;
    if (virtual > 0) {
      const handle = clock.setTimeout(() => { clockTimers.delete(handle); send(); }, virtual);
      clockTimers.add(handle);
      res.once('close', () => { clock.clearTimeout(handle); clockTimers.delete(handle); });
      return;
    }
    const raw = r.delayMs !== undefined ? r.delayMs : latencyMs ? latencyMs() : 0;
    const delay = Math.max(0, Number(raw) || 0);
    if (delay > 0) {
      timers.add((timer = setTimeout(send, delay)));
      // A client that gives up (abort, reset) must not leave a timer behind.
      res.once('close', () => {
        clearTimeout(timer);
        timers.delete(timer);
      });
    } else {
      send();
    }
  }

  const server = http.createServer((req, res) => {
    const at = clock.now(); // arrival time: taken before the body is read or any latency
    const path = (req.url ?? '/').split('?')[0];
    if (!readBody) {
      req.resume(); // bodies are not needed; drain them so keep-alive sockets stay usable
      handle(req, res, at, path, undefined);
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => handle(req, res, at, path, Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => {}); // client went away mid-body: nothing to answer
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
    /** Responses held back by `clockLatencyMs`, not yet sent. */
    held: () => clockTimers.size,
    close: () => new Promise((resolve) => {
      for (const t of timers) clearTimeout(t); // pending delayed responses would keep the loop alive
      timers.clear();
      for (const t of clockTimers) clock.clearTimeout(t);
      clockTimers.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

// accepted = 2xx answers, refused = 429 answers; byStatus counts every status code.
export function stats(log) {
  const byStatus = {};
  for (const e of log) byStatus[e.status] = (byStatus[e.status] ?? 0) + 1;
  const accepted = log.filter((e) => e.status >= 200 && e.status < 300).length;
  return { accepted, refused: byStatus[429] ?? 0, byStatus };
}
