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

/**
 * A scope that knows no window to hold to and was refused without a word:
 * its requests go one at a time, each `spacing` after the previous was sent,
 * the spacing doubled by a refusal and shortened by a tenth by an acceptance
 * (the server's pace is found from both sides, as TCP finds a link's). One
 * request in flight at a time cannot storm the server, so a refusal in this
 * state spends no retry budget: the gate is the backoff.
 */
export class Blind {
  /** ms between sends. */
  spacing: number;
  /** The earliest the next request may be sent. */
  nextAt: number;
  #busy = false;
  #queue: Array<() => void> = [];
  readonly #maxMs: number;

  constructor(now: number, spacingMs: number, maxMs: number) {
    this.#maxMs = Math.max(1, maxMs);
    this.spacing = Math.ceil(Math.min(Math.max(1, spacingMs), this.#maxMs));
    this.nextAt = now + this.spacing;
  }

  /** Waits for this caller's turn (no other request in flight, `nextAt` reached); `release()` ends it. */
  async take(clock: Clock, signal: AbortSignal | undefined): Promise<void> {
    if (this.#busy || this.#queue.length > 0) {
      await new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const onAbort = () => {
          this.#queue.splice(this.#queue.indexOf(go), 1);
          reject(signal!.reason);
        };
        const go = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        this.#queue.push(go);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    } else {
      this.#busy = true;
    }
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

  /** A request sent at `sentAt` was accepted. */
  accepted(sentAt: number): void {
    this.spacing = Math.ceil(this.spacing * 0.9);
    this.nextAt = sentAt + this.spacing;
  }

  /** A request sent in this state was refused at `now`. */
  refused(now: number): void {
    this.spacing = Math.min(this.spacing * 2, this.#maxMs);
    this.nextAt = now + this.spacing;
  }
}
