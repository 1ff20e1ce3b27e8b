// A rateLimitedFetch call cancelled before its request was sent spends no quota
// (issue 11, defect 5): with an already-aborted signal it never takes units, and
// when the signal aborts between admission and sending, the units go back.
// Against a real server on 127.0.0.1 that logs every request it receives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rateLimitedFetch } from 'tollgate';
import { startMisbehavingServer } from '../servers/index.mjs';
import { drive, fakeClock } from './drive.mjs';

const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
let server;
let serial = 0;
test.before(async () => { server = await startMisbehavingServer({ clock: { now: () => T0 } }); });
test.after(() => server.close());
const url = () => `${server.url}/ok?id=${++serial}`;
const received = (u) => server.log.filter((r) => r.id === new URL(u).searchParams.get('id')).length;

function wrap(clock, limit) {
  return rateLimitedFetch(fetch, { clock, routes: [{ url: '/*', windows: [{ limit, per: '1m' }] }] });
}

test('calls with an already aborted signal send nothing and take none of the quota', async () => {
  const clock = fakeClock(T0);
  const limited = wrap(clock, 3);
  const controller = new AbortController();
  controller.abort(new Error('cancelled by the caller'));
  const urls = [url(), url(), url()];
  for (const u of urls) {
    await assert.rejects(limited(u, { signal: controller.signal }), /cancelled by the caller/);
    assert.equal(received(u), 0, 'nothing reached the server');
  }
  const [scope] = limited.scopes();
  assert.equal(scope?.limiter.usage()[0].used ?? 0, 0, 'no unit was taken');
  // All three units are still there: three calls now go through at once, at T0.
  for (let i = 0; i < 3; i++) assert.equal((await limited(url())).status, 200);
  assert.equal(clock.now(), T0);
  assert.equal(limited.scopes()[0].limiter.usage()[0].used, 3);
});

test('a call whose signal aborts after admission, before sending, gives its units back', async () => {
  const clock = fakeClock(T0);
  const limited = wrap(clock, 1);
  assert.equal((await limited(url())).status, 200);
  const [scope] = limited.scopes();

  // The second call waits for the window; the moment the limiter admits it, the
  // caller cancels: before rateLimitedFetch can send it.
  const controller = new AbortController();
  let admittedAt;
  scope.limiter.events.addEventListener('admitted', () => {
    admittedAt = clock.now();
    controller.abort(new Error('cancelled after admission'));
  }, { once: true });
  const cancelled = url();
  const error = await drive(clock, limited(cancelled, { signal: controller.signal })).catch((e) => e);
  assert.match(String(error?.message), /cancelled after admission/);
  assert.equal(admittedAt, T0 + 60_000, 'it was admitted when the window freed');
  assert.equal(received(cancelled), 0, 'nothing reached the server');
  assert.equal(scope.limiter.inFlight, 0);
  assert.equal(scope.limiter.usage()[0].used, 0, 'the unit went back');

  // So the next call is admitted at once, not a minute later.
  const next = url();
  assert.equal((await limited(next)).status, 200);
  assert.equal(clock.now(), T0 + 60_000);
  assert.equal(received(next), 1);
});
