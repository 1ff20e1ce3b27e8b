// The usage panel: hex-cost-tuning's weekly report of the pipeline's Hex runs
// (runs per project in the rolling week against the budget, the 80% alert, the
// projects over 20 runs a week), computed in Node by a UsageMonitor and streamed
// with the live state.
import { formatClock, h } from './format.js';

export function renderUsage(root, usage) {
  if (!usage) return;
  const pct = Math.round(usage.used * 100);
  const bar = root.querySelector('#usage-bar');
  bar.setAttribute('aria-valuemax', usage.budget);
  bar.setAttribute('aria-valuenow', Math.min(usage.totalRuns, usage.budget));
  bar.setAttribute('aria-valuetext', `${usage.totalRuns} of ${usage.budget} runs (${pct}%)`);
  bar.querySelector('.fill').style.width = `${Math.min(100, pct)}%`;
  bar.querySelector('.fill').classList.toggle('warn', usage.used >= 0.8);
  root.querySelector('#usage-total').textContent = `${usage.totalRuns.toLocaleString('en')} runs in the last 7 days of ${usage.budget.toLocaleString('en')} budgeted (${pct}%)`;

  const alert = root.querySelector('#usage-alert');
  const reached = usage.alerts.filter((a) => a.threshold >= 0.8).at(-1);
  alert.hidden = usage.used < 0.8;
  alert.textContent = reached
    ? `Alert: ${Math.round(reached.threshold * 100)}% of the weekly run budget reached at ${formatClock(reached.at)} (${reached.runs} runs).`
    : `Alert: ${pct}% of the weekly run budget used.`;

  const rows = Object.entries(usage.byProject).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  const most = Math.max(usage.overRunsPerWeek, ...rows.map(([, n]) => n));
  root.querySelector('#usage-rows').replaceChildren(...rows.map(([project, runs]) => {
    const over = runs > usage.overRunsPerWeek;
    const fill = h('div', { class: `fill${over ? ' warn' : ''}` });
    fill.style.width = `${(100 * runs) / most}%`;
    return h('tr', { 'data-flagged': String(over) },
      h('th', { scope: 'row', text: project }),
      h('td', { class: 'num', text: String(runs) }),
      h('td', {}, h('div', { class: 'bar small', 'aria-hidden': 'true' }, fill)),
      h('td', { text: over ? `over ${usage.overRunsPerWeek} a week: review its schedule` : '' }));
  }));
  root.querySelector('#usage-flagged').textContent = usage.flagged.length === 0
    ? `No project over ${usage.overRunsPerWeek} runs a week.`
    : `${usage.flagged.length} project${usage.flagged.length === 1 ? '' : 's'} over ${usage.overRunsPerWeek} runs a week: ${usage.flagged.join(', ')}.`;
  root.querySelector('#usage-source').textContent = 'Computed by tollgate’s UsageMonitor.';
}
