// The default clock looks up Date.now and setTimeout at call time, so a
// fake-timer library installed after import drives it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import FakeTimers from '@sinonjs/fake-timers';
import { Limiter } from 'tollgate';

test('@sinonjs/fake-timers drives the default clock', async () => {
  const limiter = new Limiter({ windows: [{ limit: 2, per: '1h' }] });
  const clock = FakeTimers.install({ now: 1_795_441_320_000, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  try {
    limiter.tryAcquire(2);
    let at;
    const waiting = limiter.acquire().then((p) => { at = p.at; });
    await clock.tickAsync(3_600_000 - 1);
    assert.equal(at, undefined);
    await clock.tickAsync(1);
    await waiting;
    assert.equal(at, 1_795_441_320_000 + 3_600_000);
  } finally {
    clock.uninstall();
  }
});
