// The playground's mock API: a strict server for any windows, per key.
import { Quota, fixedBuckets, slidingLog } from '../../tests/servers/index.mjs';
import { formatWindows, parseWindows } from '../windows.js';
import { sendJson } from './static.mjs';

/**
 * `ANY /mock/...` with `Authorization: Bearer <key>` and `X-Mock-Windows: 20/1m, 60/1h`:
 * a strict server for those windows per key (sliding logs, or calendar buckets for
 * `fixed`), judged at arrival on the dashboard's clock. 201, or 429 with Retry-After
 * in (virtual) seconds. `log` keeps every answer: `{ at, key, windows, status }`.
 *
 * With `X-Mock-Envelope: 1` (the page sends it), the mock's answer travels as the
 * JSON body of a 200, `{ status, headers, body }`, and the page rebuilds the
 * Response: Chromium logs every 4xx a page fetches as a console error, and the
 * simulated 429s are the comparison's data, not the page's errors.
 */
export function createMock(clock) {
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
      const answer = req.headers['x-mock-envelope'] === '1'
        ? (status, body, headers = {}) => sendJson(res, 200, { status, headers, body })
        : (status, body, headers) => sendJson(res, status, body, headers);
      const key = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      if (key === undefined) return answer(401, { error: 'unauthorized' });
      let windows;
      try {
        windows = parseWindows(String(req.headers['x-mock-windows'] ?? ''));
      } catch (error) {
        return answer(400, { error: 'bad_windows', message: error.message });
      }
      const { name, quota } = quotaFor(windows);
      const d = quota.take(key, at);
      if (log.length >= 100_000) log.splice(0, 50_000);
      log.push({ at, key, windows: name, status: d.ok ? 201 : 429 });
      if (d.ok) return answer(201, { accepted: true, at });
      return answer(429, { error: 'rate_limited' }, {
        'retry-after': String(Math.max(1, Math.ceil((d.retryAtMs - at) / 1000))), 'x-ratelimit-window': d.window,
        'x-ratelimit-limit': String(d.limit),
      });
    },
  };
}
