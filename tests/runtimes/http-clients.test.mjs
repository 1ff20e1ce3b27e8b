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
import { Agent, fetch as undiciFetch } from 'undici';

let server;
let base;
const hits = [];
before(async () => {
  server = http.createServer((req, res) => {
    hits.push(req.url);
    if (req.url.startsWith('/api/busy')) res.writeHead(429, { 'retry-after': '3600', 'content-type': 'text/plain' }).end('busy');
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

/** After the 429, the route's scope refuses for about the hour the server asked for. */
function assertPaused(limited) {
  const next = limited.scopes()[0].limiter.tryAcquire();
  assert.equal(next.ok, false, 'the 429 reached the limiter');
  assert.ok(next.waitMs > 3_500_000 && next.waitMs <= 3_600_000, `closed until Retry-After: ${next.waitMs} ms`);
}

const count = (prefix) => hits.filter((h) => h.startsWith(prefix)).length;

describe('HTTP clients through rateLimitedFetch', () => {
  test('ky: the `fetch` option', async () => {
    const limited = limitedFetch();
    const api = ky.create({ fetch: limited, retry: 0 });
    assert.deepEqual(await api.get(`${base}/api/ky`).json(), { path: '/api/ky' });
    const error = await api.get(`${base}/api/busy?ky`).text().then(() => undefined, (e) => e);
    assert.ok(isRateLimitError(error), `ky rejects with tollgate's RateLimitError: ${error}`);
    assertPaused(limited);
    assert.equal(count('/api/busy?ky'), 1, 'the 429 is not retried into an hour-long wait');
  });

  test('axios: the fetch adapter with `env.fetch`, the 429 as an AxiosError', async () => {
    const limited = limitedFetch();
    // axios reads `error.response` as its own response object, so a refusal is
    // handed back as the server's Response and axios raises its usual error for it.
    const api = axios.create({
      adapter: 'fetch',
      env: { fetch: (input, init) => limited(input, init).catch((e) => { if (isTollgateError(e) && e.response) return e.response; throw e; }) },
    });
    assert.deepEqual((await api.get(`${base}/api/axios`)).data, { path: '/api/axios' });
    const error = await api.get(`${base}/api/busy?axios`).then(() => undefined, (e) => e);
    assert.equal(error?.name, 'AxiosError', `${error}`);
    assert.equal(error.response?.status, 429);
    assert.equal(error.response?.data, 'busy');
    assertPaused(limited);
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
    assertPaused(limited);
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
