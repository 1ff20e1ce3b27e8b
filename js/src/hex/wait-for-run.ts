/**
 * `waitForRun`: polls a run's status (unthrottled) until it is final. Long runs
 * are polled less often, and a run still going at the timeout is cancelled, as
 * Hex's own advice has it ("poll up to 30 min, then CancelRun"): a stuck run
 * keeps using compute, and no one is waiting for it any more.
 */
import type { Clock } from '../options.js';
import { sleepUntil, withDeadline } from '../wait.js';
import { isHexApiError, RunTimeoutError } from './errors.js';
import { type NormalizedWaitOptions, type WaitForRunOptions, normalizeWaitOptions } from './options.js';
import { type HexRun, type RunStatus, isFinalStatus } from './types.js';

export interface RunPoller {
  clock: Clock;
  getRunStatus(runId: string, options: { signal?: AbortSignal }): Promise<HexRun>;
  cancelRun(runId: string, options: { signal?: AbortSignal }): Promise<HexRun>;
}

/** Consecutive failed polls (network errors, 5xx) tolerated before the wait gives up: one blip must not end a 30-minute wait. */
const MAX_POLL_FAILURES = 5;
const BACKOFF_FACTOR = 1.5;

/** The wait after a poll: `interval` until `backoffAfter`, then growing by half each time up to `maxInterval`. */
export function nextInterval(o: NormalizedWaitOptions, elapsedMs: number, lastMs: number): number {
  if (elapsedMs < o.backoffAfterMs) return o.intervalMs;
  return Math.min(o.maxIntervalMs, Math.ceil(lastMs * BACKOFF_FACTOR));
}

export async function waitForRun(hex: RunPoller, runId: string, options: WaitForRunOptions = {}): Promise<HexRun> {
  const o = normalizeWaitOptions(options);
  const { clock } = hex;
  const started = clock.now();
  const timedOut = new Error('timed out'); // a private abort reason, told apart from the caller's
  const guard = withDeadline(clock, o.signal, o.timeoutMs === Infinity ? undefined : started + o.timeoutMs, () => timedOut);
  let last: HexRun | undefined;
  try {
    let failures = 0;
    for (let delay = o.intervalMs; ;) {
      try {
        last = await hex.getRunStatus(runId, { signal: guard.signal });
        failures = 0;
        if (isFinalStatus(last.status)) return last;
      } catch (error) {
        if (guard.signal?.aborted) throw guard.signal.reason;
        if (!transient(error) || ++failures >= MAX_POLL_FAILURES) throw error;
      }
      delay = nextInterval(o, clock.now() - started, delay);
      await sleepUntil(clock, clock.now() + delay, guard.signal);
    }
  } catch (error) {
    if (error !== timedOut) throw error;
  } finally {
    guard.dispose();
  }
  return cancelAfterTimeout(hex, runId, last, o);
}

async function cancelAfterTimeout(hex: RunPoller, runId: string, last: HexRun | undefined, o: NormalizedWaitOptions): Promise<HexRun> {
  const lastStatus: RunStatus | undefined = last?.status;
  const what = `run ${runId} was still ${lastStatus ?? 'unknown'} after the timeout of ${o.timeoutMs} ms`;
  let cancelled: HexRun;
  try {
    cancelled = await hex.cancelRun(runId, { signal: o.signal });
  } catch (cause) {
    if (o.signal?.aborted) throw o.signal.reason;
    throw new RunTimeoutError(`${what}, and cancelling it failed: ${(cause as Error)?.message ?? String(cause)}`,
      { runId, lastStatus, run: last, cancelled: false, timeoutMs: o.timeoutMs, cause });
  }
  // It finished between the last poll and the cancel: that is a result, not a timeout.
  if (isFinalStatus(cancelled.status) && cancelled.status !== 'KILLED') return cancelled;
  throw new RunTimeoutError(`${what}; it was cancelled (status ${cancelled.status})`,
    { runId, lastStatus, run: cancelled, cancelled: true, timeoutMs: o.timeoutMs });
}

/** Worth polling again: a network error (fetch's TypeError) or a server-side failure. */
function transient(error: unknown): boolean {
  if (error instanceof TypeError) return true;
  return isHexApiError(error) && (error.status >= 500 || error.status === 408 || error.status === 429);
}
