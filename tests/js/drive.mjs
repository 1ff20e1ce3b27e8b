// Drives a fake clock while real HTTP runs: between timers it yields to the
// event loop (real I/O), and moves virtual time only to the next due timer.
import { fakeClock } from './fake-clock.mjs';

export { fakeClock };

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Resolves with `promise`'s outcome, firing `clock`'s timers in time order
 * whenever the process is otherwise idle. Fails after `maxSteps` timer firings
 * (a hang is a failure, not a stuck test). `busy()` true holds virtual time.
 */
export async function drive(clock, promise, { maxSteps = 100_000, settleTicks = 3, busy = () => false } = {}) {
  let done = false;
  const result = promise.then((value) => { done = true; return value; }, (error) => { done = true; throw error; });
  result.catch(() => {});
  for (let steps = 0; !done; ) {
    // Let sockets, responses and promise chains run before time moves.
    for (let i = 0; i < settleTicks && !done; i++) await tick();
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (done) break;
    // Requests in flight: no virtual time passes until they are answered
    // (a network with no latency), so the figures are the limiter's own.
    if (busy()) continue;
    const next = clock.nextTimerAt();
    if (next === undefined) continue; // waiting on real I/O only
    if (++steps > maxSteps) throw new Error(`drive: gave up after ${maxSteps} timer steps at virtual ${clock.now()}`);
    await clock.advanceTo(next);
  }
  return result;
}
