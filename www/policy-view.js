// A scope's windows side by side: as configured (the route's) and as learned
// (stated by its server, or found from its bare 429s), one row per window
// length. tollgate holds to the lower limit of a row; where both are there,
// the cell in force says so.
// Renders into a <table>, only when the windows changed.
import { formatDuration, h } from './format.js';

const kindNote = (w) => (w.kind === 'fixed' ? ' (calendar)' : w.kind === 'bucket' ? ' (bucket)' : '');

/** `configured`, `learned`: `[{ limit, perMs, kind }]` (Scope's). */
export function renderPolicy(table, configured, learned) {
  const key = JSON.stringify([configured, learned]);
  if (table.dataset.key === key) return;
  table.dataset.key = key;
  if (table.tHead === null) {
    table.append(
      h('caption', { text: 'Windows: configured and learned from the server' }),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: 'per' }),
        h('th', { scope: 'col', text: 'configured' }),
        h('th', { scope: 'col', text: 'learned' }))),
      h('tbody'));
  }
  const lengths = [...new Set([...configured, ...learned].map((w) => w.perMs))].sort((a, b) => a - b);
  const rows = lengths.map((perMs) => {
    const c = configured.find((w) => w.perMs === perMs);
    const l = learned.find((w) => w.perMs === perMs);
    // The learned limit is in force where it is lower, or where nothing is configured.
    const learnedRules = l !== undefined && (c === undefined || l.limit < c.limit);
    return h('tr', { 'data-per-ms': perMs },
      h('th', { scope: 'row', text: formatDuration(perMs) }),
      cell(c, 'configured', c !== undefined && l !== undefined && !learnedRules),
      cell(l, 'learned', learnedRules));
  });
  if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 3, text: 'none configured, none learned yet' })));
  table.tBodies[0].replaceChildren(...rows);
}

function cell(w, side, inForce) {
  if (w === undefined) return h('td', { 'data-side': side, text: '—', title: side === 'learned' ? 'the server has not stated this window' : 'not configured' });
  return h('td', { 'data-side': side, 'data-in-force': String(inForce) },
    `${w.limit.toLocaleString('en')}${kindNote(w)}`, inForce ? h('span', { class: 'in-force', text: ' in force' }) : undefined);
}
