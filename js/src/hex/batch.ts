/**
 * `runBatch`: triggers and awaits many projects, `concurrency` at a time. No
 * fixed sleeps: each trigger waits in the rate-limited fetch exactly as long as
 * the quota requires, and the limiter's plan gives the ETA and the up-front
 * refusal. Every project gets a result; one failure loses nothing else.
 */
import type { Clock } from '../options.js';
import { BatchDeadlineError, isHexAuthError, isRunTimeoutError } from './errors.js';
import { estimateFinish, median } from './eta.js';
import { type BatchProgress, type BatchProject, type RunBatchOptions, type RunProjectOptions, type WaitForRunOptions, normalizeBatchOptions } from './options.js';
import type { HexRun, RunStatus, TriggeredRun } from './types.js';

export interface BatchResult {
  id: string;
  /** The run's final status, or 'failed' when there is none (the trigger or the waiting failed). */
  status: Exclude<RunStatus, 'PENDING' | 'RUNNING'> | 'failed';
  runId?: string;
  /** The run as last seen. */
  run?: HexRun;
  /** Why it did not complete: a `HexAuthError`, `HexApiError`, `RunTimeoutError` (status 'KILLED': it was cancelled)... */
  error?: unknown;
  /** The project was already running (409) and this is that run. */
  alreadyRunning?: boolean;
}

export interface BatchRunner {
  clock: Clock;
  runProject(projectId: string, inputParams: Record<string, unknown>, options: RunProjectOptions): Promise<TriggeredRun>;
  waitForRun(runId: string, options: WaitForRunOptions): Promise<HexRun>;
  /** When each of the next n triggers would go (the trigger limiter's plan). */
  plan(n: number): number[];
  /** Triggers sent and not yet answered. */
  triggersInFlight(): number;
}

export async function runBatch(hex: BatchRunner, projects: readonly BatchProject[], options: RunBatchOptions = {}): Promise<BatchResult[]> {
  const o = normalizeBatchOptions(projects, options);
  const { clock } = hex;
  const total = o.projects.length;
  const results: BatchResult[] = new Array(total);
  const runningSince = new Map<number, number>(); // project index -> when its run was seen started
  const durations: number[] = []; // trigger answered -> final status seen, of runs this batch started
  let started = 0;
  let finished = 0;
  let failed = 0;
  let untriggered = total;
  let next = 0;
  let stop: unknown; // set by a 401: the same token will fail every other trigger too

  const etaAt = (): number => {
    const now = clock.now();
    const runMs = median(durations) ?? o.expectedRunMs;
    const waiting = stop === undefined ? untriggered : 0;
    const sent = Math.min(waiting, hex.triggersInFlight());
    const triggerAt = [...new Array<number>(sent).fill(now), ...hex.plan(waiting - sent)];
    const runningUntil = [...runningSince.values()].map((at) => at + runMs);
    return estimateFinish({ now, triggerAt, runningUntil, concurrency: o.concurrency, runMs });
  };

  const report = () => {
    if (o.onProgress === undefined) return;
    const eta = etaAt();
    const progress: BatchProgress = { started, finished, failed, total, etaAt: eta, late: o.deadline !== undefined && eta > o.deadline };
    try {
      o.onProgress(progress);
    } catch (error) {
      // As an EventTarget listener's would be: reported, not thrown into the batch.
      queueMicrotask(() => { throw error; });
    }
  };

  async function one(i: number): Promise<void> {
    const { id, params } = o.projects[i]!;
    let result: BatchResult;
    if (stop !== undefined) {
      result = { id, status: 'failed', error: stop };
      untriggered -= 1;
    } else {
      let run: TriggeredRun | undefined;
      try {
        run = await hex.runProject(id, params, { signal: o.signal });
        untriggered -= 1;
        started += 1;
        const at = clock.now();
        runningSince.set(i, at);
        report();
        const final = await hex.waitForRun(run.runId, { ...o.wait, signal: o.signal });
        if (!run.alreadyRunning) durations.push(clock.now() - at);
        result = { id, status: final.status as BatchResult['status'], runId: run.runId, run: final, ...(run.alreadyRunning ? { alreadyRunning: true } : {}) };
      } catch (error) {
        if (o.signal?.aborted) throw o.signal.reason;
        if (run === undefined) untriggered -= 1;
        if (isHexAuthError(error)) stop ??= error;
        const killed = isRunTimeoutError(error) && error.cancelled && error.run !== undefined;
        result = {
          id,
          status: killed ? (error.run!.status as BatchResult['status']) : 'failed',
          ...(run ? { runId: run.runId } : {}),
          ...(killed ? { run: error.run } : {}),
          error,
        };
      } finally {
        runningSince.delete(i);
      }
    }
    results[i] = result;
    finished += 1;
    if (result.status !== 'COMPLETED') failed += 1;
    report();
  }

  if (o.signal?.aborted) throw o.signal.reason;
  if (o.refuseIfLate) {
    const eta = etaAt();
    if (eta > o.deadline!) {
      throw new BatchDeadlineError(`${total} Hex runs cannot finish before ${new Date(o.deadline!).toISOString()}: ` +
        `the plan says ${new Date(eta).toISOString()}; nothing was triggered`, { deadline: o.deadline!, etaAt: eta, total });
    }
  }
  report();
  const worker = async () => {
    while (next < total) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, total) }, worker));
  return results;
}
