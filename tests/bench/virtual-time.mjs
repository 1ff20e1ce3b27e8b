// Virtual time for the whole process: replaces the global setTimeout/setInterval (and their
// clear*), Date and performance.now, as @sinonjs/fake-timers' install() does, so every peer's
// Date.now/performance.now/setTimeout is virtual without it knowing.
//
// Why not fake-timers itself: its next() scans every pending timer (a for-in over an object), so
// a run is quadratic in pending timers, and p-throttle's strict mode arms one timer per call
// (9,000 for the Hexagraph backlog): minutes per run instead of seconds. This keeps them in a
// binary heap; otherwise the semantics are fake-timers': a timer fires at
// now + max(0, ceil(delay)) ms, equal times in the order they were set, time moves only in
// next(). setImmediate, queueMicrotask and process.nextTick stay real, so `drain()` can let
// promise chains settle between two timers, as Node's event loop does.
const real = { setTimeout, clearTimeout, setInterval, clearInterval, Date, performance: globalThis.performance, setImmediate };

export const drain = () => new Promise((resolve) => real.setImmediate(resolve));

export function installVirtualTime(startMs) {
  let now = startMs;
  let seq = 0;
  let nextId = 1;
  const heap = []; // { at, seq, id, fn, args, every }
  const live = new Map(); // id -> entry, for clear*

  const before = (a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq);
  function push(e) {
    heap.push(e);
    for (let i = heap.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!before(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
  }
  function pop() {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l], heap[m])) m = l;
        if (r < heap.length && before(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  }

  class Timeout {
    constructor(id) { this.id = id; }
    ref() { return this; }
    unref() { return this; }
    hasRef() { return true; }
    refresh() { const e = live.get(this.id); if (e) { schedule(e.fn, e.delay, e.args, e.every, this.id); } return this; }
    [Symbol.toPrimitive]() { return this.id; }
  }
  const delayOf = (ms) => Math.max(0, Math.ceil(Number(ms) || 0));
  let sealed = false;
  function schedule(fn, ms, args, every, id = nextId++) {
    if (sealed) return new Timeout(id); // never fires
    const delay = delayOf(ms);
    const e = { at: now + delay, seq: seq++, id, fn, args, delay, every };
    live.set(id, e);
    push(e);
    return new Timeout(id);
  }
  const clear = (h) => {
    const id = typeof h === 'object' && h !== null ? h.id : h;
    const e = live.get(id);
    if (e === undefined) return;
    e.fn = e.args = null; // it stays in the heap until popped: keep nothing alive through it
    live.delete(id);
  };

  class VirtualDate extends real.Date {
    constructor(...args) { if (args.length === 0) super(now); else super(...args); }
    static now() { return now; }
  }
  const perf = { now: () => now - startMs, timeOrigin: startMs, mark() {}, measure() {}, clearMarks() {}, clearMeasures() {} };

  globalThis.setTimeout = (fn, ms, ...args) => schedule(fn, ms, args, false);
  globalThis.setInterval = (fn, ms, ...args) => schedule(fn, ms, args, true);
  globalThis.clearTimeout = clear;
  globalThis.clearInterval = clear;
  globalThis.Date = VirtualDate;
  Object.defineProperty(globalThis, 'performance', { value: perf, configurable: true, writable: true });

  return {
    get now() { return now; },
    /** Live timers (set and neither fired nor cleared; an interval counts until cleared). */
    get pending() { return live.size; },
    setTimeout: (fn, ms) => schedule(fn, ms, [], false),
    clearTimeout: clear,
    /** Fires the earliest live timer (moving time to it); false when none is left. */
    next() {
      for (;;) {
        if (heap.length === 0) return false;
        const e = pop();
        if (live.get(e.id) !== e) continue; // cleared or refreshed
        now = Math.max(now, e.at);
        if (e.every) push(Object.assign(e, { at: now + Math.max(1, e.delay), seq: seq++ }));
        else live.delete(e.id);
        e.fn(...e.args);
        return true;
      }
    },
    /** From now on new timers never fire: what is still running parks at its next timer. */
    seal() {
      sealed = true;
    },
    uninstall() {
      Object.assign(globalThis, { setTimeout: real.setTimeout, clearTimeout: real.clearTimeout, setInterval: real.setInterval, clearInterval: real.clearInterval, Date: real.Date });
      Object.defineProperty(globalThis, 'performance', { value: real.performance, configurable: true, writable: true });
      heap.length = 0;
      live.clear();
    },
  };
}
