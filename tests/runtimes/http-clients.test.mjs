// The HTTP clients users already have, each given the limited fetch the way the
// README says (ky: `fetch`; axios: the fetch adapter's `env.fetch`; undici:
// its `fetch`, with a `dispatcher` passed through), against a local server:
// a request goes through and its body comes back through the client's own API;
// a 429 with Retry-After reaches the limiter (the route's scope then refuses for
// the hour) and surfaces as the client's usual error. got has no fetch option
// (it sends with node:http), so its recipe is a Limiter in got's hooks.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import axios from 'axios';
import got from 'got';
import ky from 'ky';
import { Limiter, isRateLimitError, isTollgateError, rateLimitedFetch } from 'tollgate';
import { Agent, Request as UndiciRequest, fetch as undiciFetch } from 'undici';

let server;
let base;
const hits = [];
before(async () => {
  server = http.createServer((req, res) => {
    hits.push(req.url);
    if (req.url.startsWith('/api/busy')) res.writeHead(429, { 'retry-after': '3600', 'content-type': 'text/plain' }).end('busy');
    else if (req.url.startsWith('/api/echo')) {
      let body = '';
      req.on('data', (chunk) => { body += chunk; }).on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, body, auth: req.headers.authorization }));
      });
    }
    else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url }));
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => new Promise((ok) => { server.closeAllConnections(); server.close(ok); }));

/** The limited fetch of every recipe: one route, and a Retry-After over a minute is refused at once. */
function limitedFetch(fetch = globalThis.fetch) {
  return rateLimitedFetch(fetch, { routes: [{ url: '/api/*', windows: [{ limit: 100, per: '1h' }] }], retry: { maxRetryAfter: '1m' } });
}

/**
 * After the 429, the route's scope refuses the next call at once, without asking the server, with
 * a RateLimitError pointing at the hour the server asked for (a Retry-After beyond
 * `maxRetryAfter` fails calls at once instead of pausing the limiter).
 */
async function assertPaused(limited, path, init) {
  const sent = hits.length;
  const error = await limited(`${base}${path}`, init).then(() => undefined, (e) => e);
  assert.ok(isRateLimitError(error), `the 429 reached the limiter: ${error}`);
  const waitMs = error.retryAt - Date.now();
  assert.ok(waitMs > 3_500_000 && waitMs <= 3_600_000, `refused until Retry-After: ${waitMs} ms`);
  assert.equal(hits.length, sent, 'refused without asking the server');
}

const count = (prefix) => hits.filter((h) => h.startsWith(prefix)).length;

describe('HTTP clients through rateLimitedFetch', () => {
  test('ky: the `fetch` option', async () => {
    const limited = limitedFetch();
    const api = ky.create({ fetch: limited, retry: 0 });
    assert.deepEqual(await api.get(`${base}/api/ky`).json(), { path: '/api/ky' });
    const error = await api.get(`${base}/api/busy?ky`).text().then(() => undefined, (e) => e);
    assert.ok(isRateLimitError(error), `ky rejects with tollgate's RateLimitError: ${error}`);
    await assertPaused(limited, '/api/ky-next');
    assert.equal(count('/api/busy?ky'), 1, 'the 429 is not retried into an hour-long wait');
  });

  test('axios: the fetch adapter with `env.fetch`, the 429 as an AxiosError, a refusal as its cause', async () => {
    const limited = limitedFetch();
    // The README's recipe. axios takes any error's `response` for its own response object
    // (and fails with "Cannot set property headers of #<Response>" on a fetch Response), so
    // a tollgate error that carries the server's Response hands that Response back instead.
    const toAxios = (e) => (isTollgateError(e) && e.response ? e.response : Promise.reject(e));
    const api = axios.create({ adapter: 'fetch', env: { fetch: (input, init) => limited(input, init).catch(toAxios) } });
    assert.deepEqual((await api.get(`${base}/api/axios`)).data, { path: '/api/axios' });

    const error = await api.get(`${base}/api/busy?axios`).then(() => undefined, (e) => e);
    assert.equal(error?.name, 'AxiosError', `${error}`);
    assert.equal(error.response?.status, 429);
    assert.equal(error.response?.data, 'busy');
    assert.equal(error.response?.headers['retry-after'], '3600');

    // No response to hand back (tollgate refuses before sending): axios wraps tollgate's error,
    // keeping its name, with the error (and its retryAt) as `cause`.
    const refused = await api.get(`${base}/api/axios-after`).then(() => undefined, (e) => e);
    assert.equal(refused?.isAxiosError, true, `${refused}`);
    assert.equal(refused.name, 'RateLimitError');
    assert.ok(isRateLimitError(refused.cause), `the cause is tollgate's error: ${refused.cause}`);
    assert.ok(refused.cause.retryAt - Date.now() > 3_500_000, `retryAt is the server's hour: ${refused.cause.retryAt}`);
    assert.equal(hits.includes('/api/axios-after'), false, 'the refused request never reached the server');
  });

  test('undici: its `fetch` wrapped, a `dispatcher` passed through init', async (t) => {
    const agent = new Agent({ connections: 1 });
    t.after(() => agent.close());
    const limited = limitedFetch(undiciFetch);
    const res = await limited(`${base}/api/undici`, { dispatcher: agent });
    assert.deepEqual(await res.json(), { path: '/api/undici' });
    const error = await limited(`${base}/api/busy?undici`, { dispatcher: agent }).then(() => undefined, (e) => e);
    assert.ok(isRateLimitError(error), `${error}`);
    assert.equal(error.response.status, 429);
    await assertPaused(limited, '/api/undici-next', { dispatcher: agent });
  });

  test("undici: its own `Request` (another package's class) is routed by its method, headers and body", async () => {
    assert.equal(new UndiciRequest(base) instanceof Request, false, 'undici\'s npm Request is not the global class');
    // Only POSTs are limited, one an hour per token: routed as a GET, the request would go unlimited.
    const limited = rateLimitedFetch(undiciFetch, {
      routes: [{ url: '/api/echo', method: 'POST', key: (r) => r.headers.get('authorization'), windows: [{ limit: 1, per: '1h' }] }],
    });
    const post = () => new UndiciRequest(`${base}/api/echo`, { method: 'POST', body: 'payload', headers: { authorization: 'Bearer u' } });
    const scope = limited.scopeFor(post());
    assert.ok(scope, 'scopeFor routes the POST');
    const res = await limited(post());
    assert.deepEqual(await res.json(), { method: 'POST', body: 'payload', auth: 'Bearer u' });
    assert.equal(limited.scopes().length, 1);
    assert.equal(limited.scopes()[0].key, scope.key, 'the key came from the Request\'s own headers');
    const next = limited.scopes()[0].limiter.tryAcquire();
    assert.equal(next.ok, false, 'the POST counted against its hour');
  });

  test('got: a Limiter in its hooks (got has no fetch option)', async () => {
    const limiter = new Limiter({ windows: [{ limit: 2, per: '1h' }] });
    const permits = new WeakMap(); // got's options object of each request -> its permit
    const api = got.extend({
      hooks: {
        beforeRequest: [async (options) => { permits.set(options, await limiter.acquire({ signal: options.signal })); }],
        afterResponse: [(response) => { permits.get(response.request.options)?.complete(); return response; }],
        beforeError: [(error) => { if (error.options) permits.get(error.options)?.complete(); return error; }],
      },
    });
    const bodies = await Promise.all(['a', 'b'].map((n) => api.get(`${base}/api/got-${n}`).json()));
    assert.deepEqual(bodies, [{ path: '/api/got-a' }, { path: '/api/got-b' }]);
    // The third waits for the hour window; a short signal gives up without sending.
    const error = await api.get(`${base}/api/got-c`, { signal: AbortSignal.timeout(100) }).then(() => undefined, (e) => e);
    assert.ok(error && /abort|timeout/i.test(`${error.name} ${error.message} ${error.cause?.name}`), `the third request is held until its signal aborts: ${error}`);
    assert.equal(count('/api/got-'), 2, 'the held request was never sent');
    assert.equal(limiter.tryAcquire().ok, false);
  });
});
