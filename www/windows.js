// Windows as a person types them ("20/1m, 60/1h", "60/1m fixed"), and back.
// Pure: the page and the dashboard server (its mock API) both read this text.
import { formatDuration } from './format.js';

const UNIT_MS = { ms: 1, s: 1_000, sec: 1_000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const ONE = /^(\d+)\s*\/\s*(\d+(?:\.\d+)?)?\s*(ms|sec|s|min|m|h|d)\s*(sliding|fixed)?$/i;

/** `{ limit, perMs, kind }` for each comma-separated window; a TypeError says which part is wrong. */
export function parseWindows(text) {
  if (typeof text !== 'string' || text.trim() === '') throw new TypeError('type at least one window, e.g. 20/1m');
  return text.split(',').map((part, i) => {
    const m = ONE.exec(part.trim());
    if (!m) throw new TypeError(`window ${i + 1} ("${part.trim()}") must look like 20/1m or 60/1m fixed`);
    const limit = Number(m[1]);
    const perMs = Math.round(Number(m[2] ?? 1) * UNIT_MS[m[3].toLowerCase()]);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100_000) throw new TypeError(`window ${i + 1}: the limit must be from 1 to 100000`);
    if (perMs < 1 || perMs > 30 * 86_400_000) throw new TypeError(`window ${i + 1}: the period must be from 1 ms to 30 days`);
    return { limit, perMs, kind: (m[4] ?? 'sliding').toLowerCase() };
  });
}

/** The canonical text of `windows` (also the name of their shared quota). */
export function formatWindows(windows) {
  return windows.map((w) => `${w.limit}/${formatPeriod(w.perMs)}${w.kind === 'fixed' ? ' fixed' : ''}`).join(', ');
}

/** 60000 -> '1m', 90000 -> '90s', 250 -> '250ms'. */
export function formatPeriod(ms) {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]]) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** tollgate's window options for `windows`. */
export function toLimiterWindows(windows) {
  return windows.map((w) => ({ limit: w.limit, per: w.perMs, kind: w.kind }));
}

/** A human label: '20 per 1 min', '60 per calendar 1 min' (durations as everywhere on the page: formatDuration). */
export function describeWindow(w) {
  return `${w.limit.toLocaleString('en')} per ${w.kind === 'fixed' ? 'calendar ' : ''}${formatDuration(w.perMs)}`;
}
