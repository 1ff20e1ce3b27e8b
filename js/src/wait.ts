/** Abortable waits on an injected clock. */
import type { Clock } from './options.js';

/** Resolves at `at` (clock time); rejects with `signal.reason` on abort and clears its timer. */
export function sleepUntil(clock: Clock, at: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const ms = at - clock.now();
  if (!(ms > 0)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal!.reason);
    };
    // Timers may fire early (or be capped at 2^31 - 1 ms): re-check the clock.
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      sleepUntil(clock, at, signal).then(resolve, reject);
    }, Math.min(ms, 2 ** 31 - 1));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What `withDeadline` gives when there is neither a signal nor a deadline. */
export const UNBOUNDED: { readonly signal: AbortSignal | undefined; dispose(): void } = Object.freeze({ signal: undefined, dispose() {} });

/**
 * A signal that aborts when `outer` aborts or when the clock reaches
 * `deadline` (with `onDeadline()` as the reason). `dispose()` clears the timer.
 */
export function withDeadline(clock: Clock, outer: AbortSignal | undefined, deadline: number | undefined,
  onDeadline: () => Error): { signal: AbortSignal | undefined; dispose(): void } {
  if (deadline === undefined && outer === undefined) return UNBOUNDED; // most calls: nothing made for them
  const controller = new AbortController();
  const abort = (reason: unknown) => controller.abort(reason);
  const onOuter = () => abort(outer!.reason);
  if (outer?.aborted) abort(outer.reason);
  else outer?.addEventListener('abort', onOuter, { once: true });
  let timer: unknown;
  if (deadline !== undefined && !controller.signal.aborted) {
    const arm = () => {
      const ms = deadline - clock.now();
      if (ms <= 0) return abort(onDeadline());
      timer = clock.setTimeout(arm, Math.min(ms, 2 ** 31 - 1));
    };
    arm();
  }
  return {
    signal: controller.signal,
    dispose() {
      if (timer !== undefined) clock.clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}
