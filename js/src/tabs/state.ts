/**
 * What `tabStore` keeps in IndexedDB for one quota: the windows' snapshot
 * (requests answered), the requests in flight with their leases, the queue of
 * every tab's waiters, and the pause gate. One JSON value per quota, always
 * read and written under the quota's Web Lock.
 */

export const STATE_VERSION = 1;

/** A request admitted and not yet answered. */
export interface InFlight {
  id: string;
  /** The limiter instance (one per tab and quota) that asked for it. */
  owner: string;
  /** Admitted at, on the quota clock. */
  at: number;
  cost: number;
  /** `at + leaseMs`: counted as sent then if no answer was recorded before. */
  leaseEnd: number;
  /** The owner has seen the grant (it may have sent the request). An unpicked grant of a closed tab was never sent. */
  picked: boolean;
  /** Already recorded in the windows (without `countInFlight`): kept only until its owner picks it up. */
  counted: boolean;
}

/** A waiter of some tab, served by priority, then arrival, across tabs. */
export interface Queued {
  id: string;
  owner: string;
  cost: number;
  priority: number;
  seq: number;
}

export interface TabState {
  version: number;
  /** Names this incarnation of the quota (a reset starts another): e.g. the key a test server counts under. */
  epoch: string;
  /** `Limiter#snapshot()` of the answered requests; null before the first. */
  snapshot: unknown;
  inFlight: InFlight[];
  queue: Queued[];
  /** Arrival counter for `queue`. */
  seq: number;
  pausedUntil: number;
  pauseReason: string;
}

export const newId = (): string => crypto.randomUUID();

export function freshState(): TabState {
  return { version: STATE_VERSION, epoch: newId().slice(0, 8), snapshot: null, inFlight: [], queue: [], seq: 0, pausedUntil: 0, pauseReason: '' };
}

/** The stored state, or a fresh one when there is none or it is not ours (another version, corrupt). */
export function parseState(text: string | undefined): { state: TabState; stored: boolean } {
  try {
    const s = JSON.parse(text ?? 'null') as TabState | null;
    if (s?.version === STATE_VERSION && Array.isArray(s.inFlight) && Array.isArray(s.queue) && typeof s.epoch === 'string') {
      return { state: s, stored: true };
    }
  } catch {
    // unreadable: start afresh
  }
  return { state: freshState(), stored: false };
}

/** Serves waiters by priority (higher first), then arrival. */
export const byTurn = (a: Queued, b: Queued): number => b.priority - a.priority || a.seq - b.seq;

export const unitsInFlight = (s: TabState): number => s.inFlight.reduce((n, p) => (p.counted ? n : n + p.cost), 0);
