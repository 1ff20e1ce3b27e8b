/**
 * `schedule` and `wrap` over any limiter with `acquire` and a permit with
 * `complete`: the local `Limiter` and every `SharedLimiter` (Redis, tabs) use
 * these two functions, so a store only wires them in.
 */
import type { AcquireOptions } from './limiter.js';

/** Options of `schedule`: those of `acquire`. */
export type ScheduleOptions = AcquireOptions;

/** Options of `wrap`: each call of the wrapped function acquires with these. */
export type WrapOptions = Omit<AcquireOptions, 'signal'> & {
  /** Aborting rejects the calls still waiting (not those already running). */
  signal?: AbortSignal;
};

/** What `schedule` needs of a limiter: the local one or a shared one. */
export interface Acquirer {
  acquire(options?: AcquireOptions): Promise<{ complete(at?: number): unknown }>;
}

/**
 * Runs `fn` once admitted and completes the permit when the promise it returns
 * settles, fulfilled or rejected: the call was in flight until then. `fn`'s
 * result or rejection is passed on unchanged; a permit that fails to complete
 * (a shared store gone) does not hide it.
 */
export async function scheduleWith<T>(limiter: Acquirer, fn: () => T | PromiseLike<T>, options: ScheduleOptions = {}): Promise<Awaited<T>> {
  if (typeof fn !== 'function') throw new TypeError(`\`fn\` must be a function to run once admitted; got ${typeof fn}`);
  if (typeof options !== 'object' || options === null) throw new TypeError('`options` must be an object like { cost, priority, signal }');
  const permit = await limiter.acquire(options);
  let result: Awaited<T>;
  try {
    result = await fn();
  } catch (error) {
    await Promise.resolve(permit.complete()).catch(() => {});
    throw error;
  }
  await permit.complete();
  return result;
}

/** `fn` limited: each call waits its turn; `this`, the arguments and the result are passed through. */
export function wrapWith<A extends unknown[], R, This = unknown>(
  limiter: Acquirer,
  fn: (this: This, ...args: A) => R,
  options: WrapOptions = {},
): (this: This, ...args: A) => Promise<Awaited<R>> {
  if (typeof fn !== 'function') throw new TypeError(`\`fn\` must be a function to limit; got ${typeof fn}`);
  if (typeof options !== 'object' || options === null) throw new TypeError('`options` must be an object like { cost, priority, signal }');
  const acquire = { ...options };
  return function limited(this: This, ...args: A) {
    return scheduleWith(limiter, () => fn.apply(this, args), acquire);
  };
}
