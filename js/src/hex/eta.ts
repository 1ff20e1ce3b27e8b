/**
 * When a batch of Hex runs is expected to finish. Two things hold a project
 * back: its trigger cannot go before the limiter's plan says (the quota), and
 * not before one of `concurrency` slots is free (a run in progress holds one).
 * Each run then takes `runMs`.
 *
 * An estimate, exact when runs take exactly `runMs` and nothing else uses the
 * token: a trigger held back by a slot may move later triggers' plan times, and
 * no trigger can go before its plan time, so the estimate errs early.
 */
export interface EtaInput {
  /** ms since the epoch. */
  now: number;
  /** When each remaining trigger can go, in order (the limiter's `plan`). */
  triggerAt: readonly number[];
  /** When each run in progress is expected to end. */
  runningUntil: readonly number[];
  concurrency: number;
  runMs: number;
}

export function estimateFinish({ now, triggerAt, runningUntil, concurrency, runMs }: EtaInput): number {
  const slots = runningUntil.map((t) => Math.max(t, now));
  while (slots.length < concurrency) slots.push(now);
  let end = Math.max(now, ...slots);
  for (const at of triggerAt) {
    let k = 0;
    for (let i = 1; i < slots.length; i++) if (slots[i]! < slots[k]!) k = i;
    const finish = Math.max(slots[k]!, at) + runMs;
    slots[k] = finish;
    end = Math.max(end, finish);
  }
  return end;
}

/** The middle of the observed durations: one run stuck for 30 minutes does not move every ETA. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}
