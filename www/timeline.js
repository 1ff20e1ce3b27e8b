// The timeline, hand-written SVG (some sixty lines; a chart library would be more
// to ship and to allow in the CSP than this). Over the last `spanMs`, one panel
// per window that fits in the span, each on its own scale: the window's count
// over its own period at every bucket end (a step line) against its limit (a
// dashed line). The first panel also has the requests sent per bucket (bars);
// with the bucket as long as the shortest window, the bars compare with its
// limit directly. Above: the server's refusals (red) and tollgate's retries (amber).
import { drawWidth, formatDuration, h, s } from './format.js';
import { describeWindow } from './windows.js';

const LEFT = 40;
const RIGHT = 10;
const STRIP = 16; // the refusal and retry marks
const PANEL = 64;
const GAP = 14;
const AXIS = 18;

/** First index with `list[i] > x` (`list` ascending). */
function after(list, x) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Draws into `svg` (emptied first) and fills `legend` (a <ul>). Times ascending, on the quota clock. */
export function drawTimeline(svg, legend, { now, spanMs, buckets = 60, windows, sent, refused, retried }) {
  const W = drawWidth(svg, 640);
  const size = spanMs / buckets;
  const start = now - spanMs;
  const ends = Array.from({ length: buckets }, (_, i) => start + (i + 1) * size);
  const counts = ends.map((t) => after(sent, t) - after(sent, t - size));
  const drawn = windows.map((w, i) => ({ ...w, colour: i % 3 })).filter((w) => w.perMs <= spanMs);
  const x = (t) => LEFT + ((t - start) / spanMs) * (W - LEFT - RIGHT);
  const height = STRIP + drawn.length * (PANEL + GAP) + AXIS;
  const inSpan = (list) => list.filter((t) => t > start && t <= now);
  const refusedNow = inSpan(refused);
  const retriedNow = inSpan(retried);

  const panels = drawn.map((w, k) => {
    const values = ends.map((t) => after(sent, t) - after(sent, t - w.perMs));
    const top = Math.max(w.limit, ...values, ...(k === 0 ? counts : [])) * 1.1;
    const base = STRIP + k * (PANEL + GAP) + PANEL;
    const y = (v) => base - (v / top) * PANEL;
    let d = `M${x(start)} ${y(values[0])}`;
    values.forEach((v, i) => {
      d += ` V${y(v)} H${x(ends[i])}`;
    });
    const bar = Math.max(1, (W - LEFT - RIGHT) / buckets - 1);
    return [
      s('line', { class: 'axis', x1: LEFT, x2: W - RIGHT, y1: base, y2: base }),
      ...(k === 0 ? counts.map((c, i) => (c === 0 ? null : s('rect', { class: 'sent', x: x(ends[i] - size) + 0.5, y: y(c), width: bar, height: base - y(c) }))) : []),
      s('line', { class: `limit w${w.colour}`, x1: LEFT, x2: W - RIGHT, y1: y(w.limit), y2: y(w.limit) }),
      s('text', { class: `tick w${w.colour}`, x: LEFT - 4, y: y(w.limit) + 4, 'text-anchor': 'end', text: w.limit.toLocaleString('en') }),
      s('text', { class: 'tick', x: LEFT - 4, y: base + 4, 'text-anchor': 'end', text: '0' }),
      s('path', { class: `count w${w.colour}`, d }),
    ];
  });

  const total = counts.reduce((a, b) => a + b, 0);
  svg.setAttribute('viewBox', `0 0 ${W} ${height}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `Last ${formatDuration(spanMs)}: ${total} sent, at most ${Math.max(0, ...counts)} in ${formatDuration(size)}; `
    + `${refusedNow.length} refused by the server; ${retriedNow.length} retried.`);
  svg.replaceChildren(
    ...panels.flat(),
    ...refusedNow.map((t) => s('path', { class: 'refused', d: `M${x(t)} ${STRIP - 2} l4 -8 h-8 z` })),
    ...retriedNow.map((t) => s('circle', { class: 'retried', cx: x(t), cy: STRIP - 6, r: 3 })),
    s('text', { class: 'tick', x: LEFT, y: height - 4, text: `−${formatDuration(spanMs)}` }),
    s('text', { class: 'tick', x: (LEFT + W - RIGHT) / 2, y: height - 4, 'text-anchor': 'middle', text: `−${formatDuration(spanMs / 2)}` }),
    s('text', { class: 'tick', x: W - RIGHT, y: height - 4, 'text-anchor': 'end', text: 'now' }),
  );
  legend.replaceChildren(
    h('li', { class: 'key-sent', text: `sent per ${formatDuration(size)}` }),
    ...drawn.map((w) => h('li', { class: `key-window w${w.colour}`, text: `in the last ${formatDuration(w.perMs)}, limit ${w.limit.toLocaleString('en')} (dashed)` })),
    ...windows.filter((w) => w.perMs > spanMs).map((w) => h('li', { class: 'key-long', text: `${describeWindow(w)}: longer than the span, see its bar` })),
    h('li', { class: 'key-refused', text: `429s: ${refusedNow.length}` }),
    h('li', { class: 'key-retried', text: `retries: ${retriedNow.length}` }),
  );
}
