/**
 * `UsageMonitor`: hex-cost-tuning's weekly run budget, done right. It counts
 * runs per project over a rolling 7 days (a run at `t` counts until exactly
 * `t + 7 days`, as a sliding window does), fires an `alert` event when usage
 * rises to a threshold of the budget, reports which projects run too often,
 * and saves its state as JSON so a restart does not forget the week.
 *
 * Memory holds only the last 7 days: older runs are dropped as time passes.
 */
import { SnapshotError } from '../errors.js';
import {
  type NormalizedUsageMonitorOptions, type ReportOptions, type UsageMonitorOptions,
  normalizeProjectId, normalizeReportOptions, normalizeUsageMonitorOptions,
} from './options.js';

export const WEEK_MS = 7 * 86_400_000;

/** `detail` of an `alert` event. */
export interface UsageAlert {
  /** The threshold reached, a fraction of the budget (e.g. 0.8). */
  threshold: number;
  /** Runs in the rolling week over the budget, after the run that reached the threshold. */
  used: number;
  /** Runs in the rolling week. */
  runs: number;
  budget: number;
  /** When the run that reached the threshold was recorded, ms since the epoch. */
  at: number;
}

export interface UsageReport {
  /** Runs in the rolling week ending now. */
  totalRuns: number;
  budget: number;
  /** `totalRuns / budget`. */
  used: number;
  /** Runs in the rolling week, per project that ran. */
  byProject: Record<string, number>;
  /** More runs than the budget. */
  overBudget: boolean;
  /** Projects with more than `overRunsPerWeek` runs, most runs first: candidates for a schedule review. */
  flagged: string[];
}

/** What `toJSON()` returns: JSON-safe, versioned. */
export interface UsageSnapshot {
  version: 1;
  /** Run times per project, ms since the epoch, ascending. */
  runs: Record<string, number[]>;
}

interface Run {
  at: number;
  projectId: string;
}

/**
 * ```js
 * const usage = new UsageMonitor({ weeklyBudget: 500, thresholds: [0.8, 1] });
 * usage.addEventListener('alert', (e) => notify(`${e.detail.threshold * 100}% of the weekly runs used`));
 * usage.record(projectId);                 // after each run triggered
 * usage.report().flagged;                  // projects with more than 20 runs this week
 * save(JSON.stringify(usage));             // and later: UsageMonitor.fromJSON(saved, options)
 * ```
 */
export class UsageMonitor extends EventTarget {
  readonly #o: NormalizedUsageMonitorOptions;
  /** Every run of the last 7 days, ascending by time (ties in order of recording). */
  #log: Run[] = [];
  readonly #byProject = new Map<string, number>();
  /** The latest time the clock has shown: a clock that jumps back brings no run back to life. */
  #latest = Number.NEGATIVE_INFINITY;

  constructor(options: UsageMonitorOptions = {}) {
    super();
    this.#o = normalizeUsageMonitorOptions(options);
  }

  /**
   * A run of `projectId` was triggered at `at` (default: now). A run older than
   * 7 days changes nothing. Fires `alert` for each threshold this run reaches.
   */
  record(projectId: string, at?: number): void {
    normalizeProjectId(projectId);
    const now = this.#now();
    const when = at ?? now;
    if (typeof when !== 'number' || !Number.isFinite(when)) throw new TypeError(`\`at\` must be a time in ms since the epoch; got ${String(at)}`);
    if (when <= now - WEEK_MS) return;
    const before = this.#log.length;
    this.#insert({ at: when, projectId });
    const budget = this.#o.weeklyBudget;
    for (const threshold of this.#o.thresholds) {
      // Compared as fractions, as the user wrote them: 400 / 500 is exactly 0.8.
      if (before / budget < threshold && (before + 1) / budget >= threshold) {
        const detail: UsageAlert = { threshold, used: (before + 1) / budget, runs: before + 1, budget, at: when };
        this.dispatchEvent(new CustomEvent('alert', { detail }));
      }
    }
  }

  /** Runs of `projectId` in the rolling week ending now. */
  runs(projectId: string): number {
    this.#now();
    return this.#byProject.get(projectId) ?? 0;
  }

  /** The rolling week ending now. */
  report(options?: ReportOptions): UsageReport {
    const { overRunsPerWeek } = normalizeReportOptions(options);
    this.#now();
    const budget = this.#o.weeklyBudget;
    const totalRuns = this.#log.length;
    const flagged = [...this.#byProject].filter(([, runs]) => runs > overRunsPerWeek)
      .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
      .map(([id]) => id);
    return {
      totalRuns,
      budget,
      used: totalRuns / budget,
      // fromEntries: a project called '__proto__' stays a key.
      byProject: Object.fromEntries(this.#byProject),
      overBudget: totalRuns > budget,
      flagged,
    };
  }

  /** The runs of the last 7 days, for `UsageMonitor.fromJSON` (also what `JSON.stringify(monitor)` writes). */
  toJSON(): UsageSnapshot {
    this.#now();
    const runs = new Map<string, number[]>();
    for (const { at, projectId } of this.#log) {
      let times = runs.get(projectId);
      if (times === undefined) runs.set(projectId, (times = []));
      times.push(at);
    }
    return { version: 1, runs: Object.fromEntries(runs) };
  }

  /**
   * A monitor with the runs of a `toJSON()` snapshot (the object or its JSON
   * text); runs older than 7 days are dropped. A snapshot of another version or
   * form is a `SnapshotError`.
   */
  static fromJSON(json: unknown, options: UsageMonitorOptions = {}): UsageMonitor {
    const monitor = new UsageMonitor(options);
    const now = monitor.#now();
    for (const [projectId, times] of readSnapshot(json)) {
      for (const at of times) if (at > now - WEEK_MS) monitor.#insert({ at, projectId });
    }
    return monitor;
  }

  #insert(run: Run): void {
    // Runs are recorded in time order almost always: search from the end.
    let i = this.#log.length;
    while (i > 0 && this.#log[i - 1]!.at > run.at) i--;
    this.#log.splice(i, 0, run);
    this.#byProject.set(run.projectId, (this.#byProject.get(run.projectId) ?? 0) + 1);
  }

  /** Reads the clock and drops the runs that left the rolling week. */
  #now(): number {
    const now = this.#o.clock.now();
    if (typeof now !== 'number' || Number.isNaN(now)) throw new TypeError(`\`clock.now()\` must return ms since the epoch; got ${String(now)}`);
    if (now <= this.#latest) return this.#latest;
    this.#latest = now;
    let expired = 0;
    while (expired < this.#log.length && this.#log[expired]!.at <= now - WEEK_MS) {
      const { projectId } = this.#log[expired]!;
      const left = this.#byProject.get(projectId)! - 1;
      if (left === 0) this.#byProject.delete(projectId);
      else this.#byProject.set(projectId, left);
      expired++;
    }
    if (expired > 0) this.#log = this.#log.slice(expired);
    return now;
  }
}

function readSnapshot(json: unknown): Array<[string, number[]]> {
  let data = json;
  if (typeof json === 'string') {
    try {
      data = JSON.parse(json);
    } catch (error) {
      throw new SnapshotError(`a UsageMonitor snapshot must be JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  const d = data as Partial<UsageSnapshot> | null;
  if (typeof d !== 'object' || d === null) throw new SnapshotError(`a UsageMonitor snapshot must be an object; got ${String(d)}`);
  if (d.version !== 1) throw new SnapshotError(`UsageMonitor snapshot version ${String(d.version)} is not supported (expected 1)`);
  if (typeof d.runs !== 'object' || d.runs === null || Array.isArray(d.runs)) {
    throw new SnapshotError('a UsageMonitor snapshot needs `runs`: { projectId: [ms, ...] }');
  }
  const entries = Object.entries(d.runs);
  for (const [projectId, times] of entries) {
    if (projectId === '' || !Array.isArray(times) || !times.every((t) => typeof t === 'number' && Number.isFinite(t))) {
      throw new SnapshotError(`\`runs[${JSON.stringify(projectId)}]\` of a UsageMonitor snapshot must be an array of times in ms`);
    }
  }
  return entries;
}
