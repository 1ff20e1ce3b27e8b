/**
 * What a scope does after a 429 that says nothing: no Retry-After, no reset,
 * no window (nginx's `limit_req` answers so). See README "429s that say nothing".
 */
import type { Clock } from './options.js';
import { sleepUntil } from './wait.js';

/** The most acceptance times a scope keeps (a refusal counts those in a window's last period). */
export const ACCEPTED_KEPT = 4_096;

/** Records that a response was accepted at `at` (times arrive in order). */
export function recordAccepted(accepted: number[], at: number): void {
  accepted.push(at);
  // Trimmed back to the latest ACCEPTED_KEPT once twice that many piled up: one
  // shift every ACCEPTED_KEPT responses instead of one each (a 4,096-entry
  // shift on every matched request once the scope had served that many).
  if (accepted.length >= 2 * ACCEPTED_KEPT) accepted.splice(0, accepted.length - ACCEPTED_KEPT);
}

/** How many of the latest `ACCEPTED_KEPT` of `accepted` are later than `from`. */
export function acceptedSince(accepted: readonly number[], from: number): number {
  let n = 0;
  for (let i = accepted.length - 1; i >= 0 && n < ACCEPTED_KEPT && accepted[i]! > from; i--) n++;
  return n;
}

/** Distinct accepted spacings a `Blind` keeps (they differ by a tenth each: 64 span a factor of 800). */
const ACCEPTED_SPACINGS_KEPT = 64;

/** Waits in `queue` for `go` to be called; rejects with `signal.reason` on abort (leaving the queue). */
function queueUp(queue: Array<() => void>, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      queue.splice(queue.indexOf(go), 1);
      reject(signal!.reason);
    };
    const go = () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    queue.push(go);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A learning scope before its server has said anything (zero configuration):
 * its requests go in rounds, each round as large as all the acceptances
 * before it (the probe, then 1, 2, 4, 8, ...: doubling every round trip), the
 * next round once the previous one is answered. A server that states its
 * windows ends it at once (the limiter paces the scope); a 429 that says
 * nothing ends it too (then `Blind`), after at most as many refusals as the
 * server had accepted before that round, so never more than one window's
 * worth, where a backlog sent all at once would draw all of its excess.
 * A server that never refuses costs log2(n) round trips for a backlog of n.
 */
export class SlowStart {
  /** Requests the current round may still send. */
  #left = 1;
  #inFlight = 0;
  #accepted = 0;
  #queue: Array<() => void> = [];
  #open = false;

  /**
   * Resolves once a slot of the current round is the caller's, then `done()`
   * must follow (once); undefined when it is at once. After `open()`, everyone goes (no slot, `done()` ignored).
   */
  take(signal: AbortSignal | undefined): Promise<void> | undefined {
    if (this.#open) return undefined;
    if (this.#left > 0 && this.#queue.length === 0) {
      this.#left--;
      this.#inFlight++;
      return undefined;
    }
    return queueUp(this.#queue, signal);
  }

  /** The slot's request was answered (`accepted`: not refused, not failed), or never sent. */
  done(accepted: boolean): void {
    if (this.#open) return;
    this.#inFlight--;
    if (accepted) this.#accepted++;
    if (this.#left === 0 && this.#inFlight === 0) this.#left = Math.max(1, this.#accepted);
    while (this.#left > 0 && this.#queue.length > 0) {
      this.#left--;
      this.#inFlight++;
      this.#queue.shift()!();
    }
  }

  /** Ends it: everyone waiting goes now (to the scope's limiter, or its `Blind`). */
  open(): void {
    this.#open = true;
    for (const go of this.#queue.splice(0)) go();
  }
}

/**
 * A scope that knows no window to hold to and was refused without a word:
 * its requests go one at a time, each `spacing` after the previous was
 * answered (not sent: the server saw it in between, so a request slowed on its
 * way, by a busy event loop or network, cannot bring the next one closer than
 * the spacing there).
 * The spacing is found from both sides: an acceptance cuts it by a tenth, but
 * never to the floor or below; a refusal raises the floor and goes back to the
 * shortest spacing accepted above it, or doubles the spacing when there is none
 * (up to `retry.maxBackoff`), counted from the latest accepted answer. The floor is the larger of the refused spacing and
 * the server's pace as its refusals bound it: it refused when the scope went
 * blind and again now, with `n` accepted in between, so it makes room for less
 * than n + 1 in that time, one per (now - then) / (n + 1) at the fastest. (A
 * spacing once accepted is no proof on its own: a bucket with room left from
 * a pause accepts a few faster ones.) So against a server with a steady pace
 * (nginx's limit_req) it draws one refusal below that pace, then settles on
 * the shortest spacing accepted above it, with no refusal after. One request
 * in flight at a time cannot storm the server, so a refusal in this state
 * spends no retry budget: the gate is the backoff.
 */
export class Blind {
  /** ms between sends. */
  spacing: number;
  /** The earliest the next request may be sent. */
  nextAt: number;
  /** No spacing at or below it is tried again (see above); 0 before a refusal. */
  #floor = 0;
  /** The spacings accepted (distinct, the latest `ACCEPTED_SPACINGS_KEPT`). */
  #acceptedSpacings: number[] = [];
  /** When the scope went blind (refused), and how many were accepted since. */
  readonly #since: number;
  #acceptedCount = 0;
  /** When the latest accepted request was answered (undefined before the first). */
  #acceptedAt: number | undefined;
  #busy = false;
  #queue: Array<() => void> = [];
  readonly #maxMs: number;

  constructor(now: number, spacingMs: number, maxMs: number) {
    this.#maxMs = Math.max(1, maxMs);
    this.spacing = Math.ceil(Math.min(Math.max(1, spacingMs), this.#maxMs));
    this.nextAt = now + this.spacing;
    this.#since = now;
  }

  /** Waits for this caller's turn (no other request in flight, `nextAt` reached); `release()` ends it. */
  async take(clock: Clock, signal: AbortSignal | undefined): Promise<void> {
    if (this.#busy || this.#queue.length > 0) await queueUp(this.#queue, signal);
    else this.#busy = true;
    // The turn is ours (handed over by `release`, or taken).
    try {
      await sleepUntil(clock, this.nextAt, signal);
    } catch (error) {
      this.release();
      throw error;
    }
  }

  /** Ends the current turn: the next in line gets it. */
  release(): void {
    const next = this.#queue.shift();
    if (next !== undefined) next();
    else this.#busy = false;
  }

  /** Everyone waiting goes now (the scope knows its windows again). */
  open(): void {
    for (const go of this.#queue.splice(0)) go();
    this.#busy = false;
    this.nextAt = 0;
  }

  /** A request sent at the current spacing (one at a time) was accepted, answered at `now`. */
  accepted(now: number): void {
    this.#acceptedCount++;
    if (!this.#acceptedSpacings.includes(this.spacing)) {
      this.#acceptedSpacings.push(this.spacing);
      if (this.#acceptedSpacings.length > ACCEPTED_SPACINGS_KEPT) this.#acceptedSpacings.shift();
    }
    const shorter = Math.ceil(this.spacing * 0.9);
    if (shorter > this.#floor) this.spacing = shorter;
    this.#acceptedAt = now;
    this.nextAt = now + this.spacing;
  }

  /** A request sent in this state (at the current spacing) was refused at `now`. */
  refused(now: number): void {
    const refused = this.spacing;
    this.#floor = Math.max(refused, Math.ceil((now - this.#since) / (this.#acceptedCount + 1)));
    let above = Infinity;
    for (const s of this.#acceptedSpacings) if (s > this.#floor && s < above) above = s;
    this.spacing = above !== Infinity ? above : Math.min(Math.max(refused * 2, this.#floor + 1), this.#maxMs);
    // The new spacing counts from the latest accepted answer, as the refused
    // one did: a refusal takes nothing from a server's pace (nginx leaves its
    // bucket as it is), so the slot that spacing was accepted at is still
    // there, and waiting a whole spacing from the refusal would lose it (a
    // tenth of a 10-request run).
    this.nextAt = Math.max(now, (this.#acceptedAt ?? now) + this.spacing);
  }
}
