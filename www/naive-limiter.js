// The rate limiter and the retry loop from Hex's rate-limit document
// (shared/seeds/hex-rate-limits.md: `HexRateLimiter`, `hexRunWithRetry`),
// transcribed for the playground's side-by-side comparison. Do not use them.
//
// As written there, with three changes only: time is `now()` (the playground's
// accelerated clock) instead of Date.now(); the windows are parameters (the
// document hard-codes 20/min and 60/h); the request and the sleep are passed in.
// Its flaws are kept on purpose:
// - each window is a token bucket that starts full and refills continuously, so
//   a server that counts "20 per minute" strictly sees up to 39 in the first
//   minute and 119 in the first hour, and refuses the excess;
// - the queue is drained only inside refill(), which runs only when another
//   acquire() comes: requests that arrive in one burst past the tokens wait
//   forever (`queue.length` says how many).

export class HexRateLimiter {
  constructor({ windows = [{ limit: 20, perMs: 60_000 }, { limit: 60, perMs: 3_600_000 }], now = () => Date.now() } = {}) {
    this.windows = windows;
    this.now = now;
    this.tokens = windows.map((w) => w.limit);
    this.lastRefill = windows.map(() => now());
    this.queue = [];
  }

  async acquire() {
    this.refill();
    if (this.tokens.every((t) => t >= 1)) {
      this.tokens = this.tokens.map((t) => t - 1);
      return;
    }
    return new Promise((resolve) => this.queue.push({ resolve }));
  }

  refill() {
    const now = this.now();
    this.windows.forEach((w, i) => {
      this.tokens[i] = Math.min(w.limit, this.tokens[i] + ((now - this.lastRefill[i]) / w.perMs) * w.limit);
      this.lastRefill[i] = now;
    });
    while (this.tokens.every((t) => t >= 1) && this.queue.length) {
      this.tokens = this.tokens.map((t) => t - 1);
      this.queue.shift().resolve();
    }
  }
}

/**
 * The document's retry strategy: on 429 wait 30 s x 2^attempt plus up to 5 s of
 * jitter, on 5xx 3 s x 2^attempt, at most 3 retries. `send()` resolves with a
 * Response; `sleep(ms)` waits on the same clock as the limiter.
 */
export async function hexRunWithRetry(send, { limiter, sleep, random = Math.random, maxRetries = 3 }) {
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    await limiter.acquire();
    const res = await send();
    if (res.ok) return res;
    if (res.status === 429) {
      const delay = 30_000 * Math.pow(2, attempt) + random() * 5000;
      await sleep(delay);
      continue;
    }
    if (res.status >= 500 && attempt < maxRetries) {
      await sleep(Math.pow(2, attempt) * 3000);
      continue;
    }
    throw new Error(`Hex API ${res.status}`);
  }
  throw new Error('Max retries exceeded');
}
