// hex-cost-tuning's usage monitoring, for the dashboard's usage panel, used only
// while the package does not export its own `UsageMonitor` (js/src/cost): the
// same surface (record, report, `alert` events), kept small.
//
// Runs per project over a rolling 7 days: a run at t counts until exactly t + 7 days.

export const WEEK_MS = 7 * 86_400_000;

export class UsageMonitor extends EventTarget {
  #budget;
  #thresholds;
  #clock;
  /** [{ at, projectId }], ascending. */
  #log = [];

  constructor({ weeklyBudget = 500, thresholds = [0.8], clock = { now: () => Date.now() } } = {}) {
    super();
    if (!Number.isInteger(weeklyBudget) || weeklyBudget < 1) throw new TypeError(`\`weeklyBudget\` must be an integer >= 1; got ${weeklyBudget}`);
    this.#budget = weeklyBudget;
    this.#thresholds = [...thresholds];
    this.#clock = clock;
  }

  /** A run of `projectId` was triggered at `at` (default: now); fires `alert` for each threshold it reaches. */
  record(projectId, at = this.#clock.now()) {
    const before = this.#prune();
    let i = this.#log.length;
    while (i > 0 && this.#log[i - 1].at > at) i--;
    this.#log.splice(i, 0, { at, projectId });
    for (const threshold of this.#thresholds) {
      if (before / this.#budget < threshold && (before + 1) / this.#budget >= threshold) {
        this.dispatchEvent(new CustomEvent('alert', { detail: { threshold, used: (before + 1) / this.#budget, runs: before + 1, budget: this.#budget, at } }));
      }
    }
  }

  /** The rolling week ending now: runs per project, and the projects with more than `overRunsPerWeek`. */
  report({ overRunsPerWeek = 20 } = {}) {
    const totalRuns = this.#prune();
    const byProject = {};
    for (const { projectId } of this.#log) byProject[projectId] = (byProject[projectId] ?? 0) + 1;
    const flagged = Object.entries(byProject).filter(([, n]) => n > overRunsPerWeek).sort(([, a], [, b]) => b - a).map(([id]) => id);
    return { totalRuns, budget: this.#budget, used: totalRuns / this.#budget, byProject, overBudget: totalRuns > this.#budget, flagged };
  }

  #prune() {
    const from = this.#clock.now() - WEEK_MS;
    let expired = 0;
    while (expired < this.#log.length && this.#log[expired].at <= from) expired++;
    if (expired > 0) this.#log.splice(0, expired);
    return this.#log.length;
  }
}
