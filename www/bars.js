// A window's use against its limit, as a bar with the time to its next free
// slot. Renders into a <ul>, reusing its items so screen readers and the
// transition see one bar that moves.
import { formatDuration, h } from './format.js';
import { describeWindow } from './windows.js';

/** `views`: `windowViews(...)` output; `now` on the same clock. */
export function renderWindows(list, views, now) {
  while (list.children.length > views.length) list.lastElementChild.remove();
  views.forEach((v, i) => {
    let item = list.children[i];
    if (item === undefined) {
      item = h('li', { class: 'window' },
        h('div', { class: 'window-head' }, h('span', { class: 'window-name' }), h('span', { class: 'window-count' })),
        h('div', { class: 'bar', role: 'meter', 'aria-valuemin': 0 }, h('div', { class: 'fill' })),
        h('div', { class: 'window-next' }));
      list.append(item);
    }
    const name = describeWindow(v);
    const next = v.nextFreeAt === undefined ? '' : `next slot frees in ${formatDuration(v.nextFreeAt - now)}`;
    item.querySelector('.window-name').textContent = name;
    item.querySelector('.window-count').textContent = `${v.used.toLocaleString('en')} / ${v.limit.toLocaleString('en')}`;
    const bar = item.querySelector('.bar');
    bar.setAttribute('aria-label', name);
    bar.setAttribute('aria-valuemax', v.limit);
    bar.setAttribute('aria-valuenow', v.used);
    bar.setAttribute('aria-valuetext', `${v.used} of ${v.limit} used`);
    const fill = bar.firstElementChild;
    fill.style.width = `${Math.min(100, (100 * v.used) / v.limit).toFixed(2)}%`; // CSSOM: allowed by the page's CSP
    fill.classList.toggle('full', v.remaining === 0);
    item.querySelector('.window-next').textContent = v.remaining === 0 ? `full: ${next}` : `${v.remaining.toLocaleString('en')} free${next ? ` · ${next}` : ''}`;
  });
}
