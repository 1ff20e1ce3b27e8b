// Small DOM and text helpers. The page builds its DOM with these, never with
// innerHTML, so nothing it shows can become markup.

export const SVG_NS = 'http://www.w3.org/2000/svg';

/** An HTML element: `h('p', { class: 'x', text: 'hi' }, child...)`. */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') el.textContent = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  el.append(...children.filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

const pad = (n) => String(n).padStart(2, '0');

/** 850 -> '850 ms', 12_400 -> '12.4 s', 95_000 -> '1 min 35 s', 3_720_000 -> '1 h 02 min'. */
export function formatDuration(ms) {
  if (!Number.isFinite(ms)) return 'never (only an answer can free a slot)';
  const t = Math.max(0, ms);
  if (t < 1_000) return `${Math.round(t)} ms`;
  const sec = t / 1_000;
  if (sec < 60) return `${sec < 10 ? sec.toFixed(1) : Math.floor(sec)} s`;
  const min = Math.floor(sec / 60);
  if (min < 60) return sec % 60 < 1 ? `${min} min` : `${min} min ${pad(Math.floor(sec % 60))} s`;
  const hours = Math.floor(min / 60);
  if (hours < 48) return min % 60 === 0 ? `${hours} h` : `${hours} h ${pad(min % 60)} min`;
  return hours % 24 === 0 ? `${hours / 24} d` : `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** A relative time on the quota clock: '+1:02:00.4'. */
export function formatOffset(ms) {
  const t = Math.max(0, ms);
  const hours = Math.floor(t / 3_600_000);
  const min = Math.floor((t % 3_600_000) / 60_000);
  const sec = ((t % 60_000) / 1_000).toFixed(1).padStart(4, '0');
  return `+${hours > 0 ? `${hours}:${pad(min)}` : min}:${sec}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** 'Mon 13:42:05 UTC' (quota windows that follow the calendar are UTC). */
export function formatClock(ms) {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

/** Calls `render` at most once per animation frame. */
export function throttled(render) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      render();
    });
  };
}


/**
 * The width to draw `svg` at, in its own units: its width on screen, so a
 * label of 12 units is 12 CSS pixels (a 640-unit chart squeezed into a 380 px
 * card showed its 11-unit labels at 6.5 px). `fallback` before layout.
 */
export function drawWidth(svg, fallback) {
  const width = Math.round(svg.getBoundingClientRect().width);
  return width > 0 ? width : fallback;
}
