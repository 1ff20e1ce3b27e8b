// Real-HTTP tests for the scripted misbehaving server: one server per test, real fetch,
// manualClock wherever server time shows up in a header. Real waiting is kept to tens of ms.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { manualClock, startMisbehavingServer } from './index.mjs';

const T = Date.UTC(2024, 0, 15, 9, 0, 0); // Mon, 15 Jan 2024 09:00:00 GMT

async function call(url, init) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}
const seq = async (n, f) => {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await f(i)); // in order: attempts are counted per arrival
  return out;
};
const statuses = (rs) => rs.map((r) => r.status);
const retryAfters = (rs) => rs.map((r) => r.headers.get('retry-after'));

async function server(t, opts) {
  const s = await startMisbehavingServer(opts);
  t.after(() => s.close()); // also on failure: an open server would keep the process alive
  return s;
}

describe('misbehaving server', () => {
  test('/ok, the log entry shape and stats()', async (t) => {
    const clock = manualClock(T);
    const s = await server(t, { clock });
    const r = await call(`${s.url}/ok`, { method: 'DELETE', headers: { 'idempotency-key': 'k1' } });
    assert.deepEqual([r.status, r.body], [200, { ok: true }]);
    assert.equal(r.headers.get('date'), 'Mon, 15 Jan 2024 09:00:00 GMT', 'Date is server (injected clock) time');
    clock.advance(1500);
    await call(`${s.url}/ok?x=1`);
    assert.deepEqual(s.log, [
      { at: T, method: 'DELETE', path: '/ok', status: 200, idempotencyKey: 'k1', attempt: 1, id: null },
      { at: T + 1500, method: 'GET', path: '/ok', status: 200, idempotencyKey: null, attempt: 2, id: null },
    ]);
    assert.deepEqual(s.stats(), { accepted: 2, refused: 0, byStatus: { 200: 2 }, resets: 0 });
    const nf = await call(`${s.url}/nope`);
    assert.deepEqual([nf.status, nf.body], [404, { error: 'not_found', path: '/nope' }]);
  });

  test('/retry-after-seconds: N x 429 with Retry-After: K, then 200', async (t) => {
    const s = await server(t);
    const rs = await seq(4, () => call(`${s.url}/retry-after-seconds?s=7&n=2`, { method: 'POST', body: 'x' }));
    assert.deepEqual(statuses(rs), [429, 429, 200, 200]);
    assert.deepEqual(retryAfters(rs), ['7', '7', null, null]);
    assert.deepEqual(rs[0].body, { error: 'rate_limited', attempt: 1 });
    assert.deepEqual(s.log.map((e) => e.attempt), [1, 2, 3, 4]);
    assert.equal(s.stats().refused, 2);
  });

  test('/retry-after-date: IMF-fixdate K s after server time, with a matching Date header', async (t) => {
    const clock = manualClock(T + 400); // sub-second part is floored in both headers
    const s = await server(t, { clock });
    const a = await call(`${s.url}/retry-after-date?s=30&n=2`);
    assert.equal(a.status, 429);
    assert.equal(a.headers.get('retry-after'), 'Mon, 15 Jan 2024 09:00:30 GMT');
    assert.equal(a.headers.get('date'), 'Mon, 15 Jan 2024 09:00:00 GMT');
    clock.advance(10_000);
    const b = await call(`${s.url}/retry-after-date?s=30&n=2`);
    assert.equal(Date.parse(b.headers.get('retry-after')) - Date.parse(b.headers.get('date')), 30_000);
    assert.equal(b.headers.get('date'), 'Mon, 15 Jan 2024 09:00:10 GMT');
    assert.equal((await call(`${s.url}/retry-after-date?s=30&n=2`)).status, 200);
    const past = await call(`${s.url}/retry-after-date?s=-5&id=past`);
    assert.equal(past.headers.get('retry-after'), 'Mon, 15 Jan 2024 09:00:05 GMT', 'negative K: a date in the past');
  });

  test('/retry-after-garbage and /retry-after-absurd', async (t) => {
    const s = await server(t);
    const g = await seq(2, () => call(`${s.url}/retry-after-garbage`));
    assert.deepEqual(statuses(g), [429, 200]);
    assert.equal(g[0].headers.get('retry-after'), 'soon');
    const v = await call(`${s.url}/retry-after-garbage?v=${encodeURIComponent('Wed, 99 Foo 2024')}&id=v`);
    assert.equal(v.headers.get('retry-after'), 'Wed, 99 Foo 2024');
    assert.equal((await call(`${s.url}/retry-after-garbage?v=-1&id=neg`)).headers.get('retry-after'), '-1');
    assert.equal((await call(`${s.url}/retry-after-garbage?v=${encodeURIComponent('1\r\nx: y')}&id=bad`)).status, 400);

    const a = await seq(3, () => call(`${s.url}/retry-after-absurd?n=2`));
    assert.deepEqual(statuses(a), [429, 429, 200]);
    assert.deepEqual(retryAfters(a), ['604800', '604800', null]);
  });

  test('/unavailable and /error', async (t) => {
    const s = await server(t);
    const u = await seq(2, () => call(`${s.url}/unavailable`));
    assert.deepEqual(statuses(u), [503, 200]);
    assert.equal(u[0].headers.get('retry-after'), null, 'no Retry-After unless s is given');
    const us = await seq(3, () => call(`${s.url}/unavailable?n=2&s=3&id=s`));
    assert.deepEqual(statuses(us), [503, 503, 200]);
    assert.deepEqual(retryAfters(us), ['3', '3', null]);

    const e = await seq(2, () => call(`${s.url}/error`));
    assert.deepEqual(statuses(e), [500, 200]);
    const e2 = await seq(3, () => call(`${s.url}/error?n=2&status=502&id=bg`));
    assert.deepEqual(statuses(e2), [502, 502, 200]);
    assert.deepEqual(s.stats().byStatus, { 200: 4, 500: 1, 502: 2, 503: 3 });
  });

  test('/reset: the socket is reset before any response, so fetch rejects', async (t) => {
    const s = await server(t);
    for (let i = 0; i < 2; i++) {
      await assert.rejects(fetch(`${s.url}/reset?n=2`, { method: 'POST', body: 'payload', headers: { 'idempotency-key': 'r1' } }), (err) => {
        assert.equal(err.name, 'TypeError');
        assert.equal(err.message, 'fetch failed');
        return true;
      });
    }
    assert.deepEqual((await call(`${s.url}/reset?n=2`)).body, { ok: true, attempt: 3 });
    assert.deepEqual(s.log.map((e) => [e.status, e.attempt, e.idempotencyKey]), [[null, 1, 'r1'], [null, 2, 'r1'], [200, 3, null]]);
    assert.deepEqual(s.stats(), { accepted: 1, refused: 0, byStatus: { 200: 1 }, resets: 2 });
  });

  test('/reset-mid-body: 200 headers, then the body breaks', async (t) => {
    const s = await server(t);
    const res = await fetch(`${s.url}/reset-mid-body`);
    assert.equal(res.status, 200);
    await assert.rejects(res.text(), TypeError);
    const ok = await call(`${s.url}/reset-mid-body`);
    assert.deepEqual([ok.status, ok.body], [200, { ok: true, attempt: 2 }]);
  });

  test('/slow and /jitter delay in real time; close() ends slow responses promptly', async (t) => {
    const s = await server(t);
    let t0 = performance.now();
    const slow = await call(`${s.url}/slow?ms=40`);
    assert.deepEqual(slow.body, { ok: true, attempt: 1, ms: 40 });
    assert.ok(performance.now() - t0 >= 35, `${performance.now() - t0}`);

    const j = await Promise.all(Array.from({ length: 5 }, () => call(`${s.url}/jitter?max=20`)));
    for (const r of j) assert.ok(r.status === 200 && r.body.ms >= 0 && r.body.ms <= 20, JSON.stringify(r.body));

    const pending = fetch(`${s.url}/slow?ms=60000`);
    pending.catch(() => {}); // observed below; avoid an unhandled rejection in between
    while (s.log.length < 7) await new Promise((r) => setTimeout(r, 1));
    t0 = performance.now();
    await s.close();
    assert.ok(performance.now() - t0 < 1000, 'close() did not wait for the slow response');
    await assert.rejects(pending, TypeError);
  });

  test('/headers copies h- params into response headers, garbage included', async (t) => {
    const s = await server(t);
    const q = 'h-x-ratelimit-remaining=0&h-x-ratelimit-reset=30&h-retry-after=soon&h-x-multi=a&h-x-multi=b&h-x-ratelimit-limit=' +
      encodeURIComponent('60;w=60, 1000;w=3600') + '&other=ignored';
    const r = await call(`${s.url}/headers?${q}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(r.headers.get('x-ratelimit-reset'), '30');
    assert.equal(r.headers.get('retry-after'), 'soon');
    assert.equal(r.headers.get('x-ratelimit-limit'), '60;w=60, 1000;w=3600');
    assert.equal(r.headers.get('x-multi'), 'a, b');
    assert.equal(r.headers.get('other'), null);
    const d = await call(`${s.url}/headers?h-date=garbage`);
    assert.equal(d.headers.get('date'), 'garbage', 'even Date can be overridden');
    assert.equal((await call(`${s.url}/headers?h-x-bad=${encodeURIComponent('a\nb')}`)).status, 400);
    assert.equal((await call(`${s.url}/headers?h-content-length=5`)).status, 400);
  });

  test('/echo returns method, headers and body text (body replay, Idempotency-Key)', async (t) => {
    const s = await server(t);
    const body = JSON.stringify({ run: 'proj-1', note: 'héllo' });
    const init = { method: 'PUT', body, headers: { 'content-type': 'application/json', 'idempotency-key': 'idem-7' } };
    const a = await call(`${s.url}/echo`, init);
    const b = await call(`${s.url}/echo`, init);
    for (const r of [a, b]) {
      assert.equal(r.body.method, 'PUT');
      assert.equal(r.body.body, body);
      assert.equal(r.body.headers['idempotency-key'], 'idem-7');
    }
    assert.deepEqual(s.log.map((e) => [e.idempotencyKey, e.attempt]), [['idem-7', 1], ['idem-7', 2]]);
  });

  test('/count-then-429 and /_reset', async (t) => {
    const s = await server(t);
    const path = `${s.url}/count-then-429?limit=3&s=5`;
    const rs = await seq(5, (i) => call(path, { headers: { authorization: `Bearer key-${i}` } }));
    assert.deepEqual(statuses(rs), [200, 200, 200, 429, 429], 'one counter whatever the key');
    assert.deepEqual(retryAfters(rs).slice(3), ['5', '5']);
    const r = await call(`${s.url}/_reset`);
    assert.deepEqual([r.status, r.body], [200, { ok: true }]);
    assert.deepEqual(s.log, [], '/_reset clears the log and is not logged itself');
    assert.equal((await call(path)).status, 200);
    assert.equal(s.log[0].attempt, 1);
  });

  test('counters are per path, or per (path, id) with ?id=', async (t) => {
    const s = await server(t);
    const e = (q = '') => call(`${s.url}/error?n=1${q}`).then((r) => r.status);
    assert.deepEqual([await e('&id=a'), await e('&id=b'), await e(), await e('&id=a'), await e()], [500, 500, 500, 200, 200]);
    assert.equal(await e('&status=404&id=c'), 404);
    assert.equal((await call(`${s.url}/unavailable`)).status, 503, 'another path has its own counter');
    await call(`${s.url}/_reset?id=a`);
    assert.deepEqual(s.log.map((x) => x.id), ['b', null, null, 'c', null], 'only id=a entries left the log');
    assert.equal(await e('&id=a'), 500, 'id=a counter restarted');
    assert.equal(await e('&id=b'), 200, 'id=b counter untouched');
    s.reset();
    assert.equal(await e(), 500);
  });

  test('bad parameters answer 400 instead of guessing', async (t) => {
    const s = await server(t);
    for (const q of ['/retry-after-seconds?n=abc', '/error?status=99', '/slow?ms=-1', '/count-then-429?limit=1.5']) {
      const r = await call(`${s.url}${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error, 'bad_request');
    }
  });
});
