// The quota clock in the page: the dashboard's accelerated clock, the same in
// every tab. The first tab asks /clock and leaves an anchor in localStorage
// (under a Web Lock, so two tabs opening at once agree); every tab then computes
// the time from that anchor and its own high-resolution wall clock. Tabs share
// quota state, so they must share a clock too: a tab a few virtual milliseconds
// ahead would admit that much early.
//
// The anchor takes the server's time as of when its answer arrived, so the page
// runs slightly behind the server, never ahead: calendar windows then end late
// in the page, not early. A new server (another bootId) starts a new anchor; the
// playground's quota is named after the bootId, so the old one (on another clock) is left behind.

const KEY = 'tollgate:clock';

const wall = () => performance.timeOrigin + performance.now();

function readAnchor() {
  try {
    const a = JSON.parse(localStorage.getItem(KEY) ?? 'null');
    return a && typeof a.virtualAt === 'number' && typeof a.wallAt === 'number' && a.speed > 0 ? a : undefined;
  } catch {
    return undefined;
  }
}

/** `{ now(), setTimeout(cb, ms), clearTimeout(h), speed, bootId, fresh }`; `ms` on the quota clock. */
export async function sharedClock() {
  const anchor = await navigator.locks.request(KEY, async () => {
    const res = await fetch('/clock', { cache: 'no-store' });
    if (!res.ok) throw new Error(`/clock answered ${res.status}`);
    const server = await res.json();
    const receivedAt = wall();
    const saved = readAnchor();
    if (saved && saved.bootId === server.bootId && saved.speed === server.speed) return { ...saved, fresh: false };
    const made = { bootId: server.bootId, speed: server.speed, virtualAt: server.nowMs, wallAt: receivedAt };
    localStorage.setItem(KEY, JSON.stringify(made));
    return { ...made, fresh: true };
  });
  const { speed } = anchor;
  return {
    speed,
    bootId: anchor.bootId,
    fresh: anchor.fresh,
    now: () => Math.floor(anchor.virtualAt + (wall() - anchor.wallAt) * speed),
    setTimeout: (callback, ms) => setTimeout(callback, Math.max(0, ms) / speed),
    clearTimeout: (handle) => clearTimeout(handle),
  };
}

/** Calls `onChange` when another tab starts a new anchor (the server restarted). */
export function onClockReset(onChange) {
  addEventListener('storage', (e) => {
    if (e.key === KEY) onChange();
  });
}
