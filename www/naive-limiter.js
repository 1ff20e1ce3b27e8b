// The seed's hand-written limiter and retry loop, transcribed from Hex's rate-limit
// document (shared/seeds/hex-rate-limits.md: "Rate Limiter Implementation", "Retry
// Strategy"). The one copy: the playground compares tollgate with it, and the
// goodput benchmark (tests/bench/seed-limiter.mjs re-exports it) measures it. Do not use it.
//
// The algorithm is kept exactly, flaws included:
// - both windows are token buckets that start full and refill continuously, so against a
//   server that counts "20 per minute" strictly it can send 39 in the first minute and 119
//   in the first hour, and the server refuses the excess;
// - queued waiters are released only inside refill(), which only acquire() calls: when
//   every caller is queued and nobody calls acquire() again, the queue never moves
//   (`queue.length` says how many are stranded). In the seed's own code the only later
//   calls to acquire() come from hexRunWithRetry after a 429.
//
// The changes, all parameters with the seed's values as defaults: the two windows (the
// seed hard-codes 20/minute and 60/hour); `now` (the seed reads Date.now(); the page
// passes its quota clock); `send` and `sleep` in the retry loop (the seed calls fetch and
// setTimeout).

export class HexRateLimiter {
  constructor({ minuteLimit = 20, minuteMs = 60_000, hourLimit = 60, hourMs = 3_600_000, now = () => Date.now() } = {}) {
    this.minuteLimit = minuteLimit;
    this.minuteMs = minuteMs;
    this.hourLimit = hourLimit;
    this.hourMs = hourMs;
    this.now = now;
    this.minuteTokens = minuteLimit;
    this.hourlyTokens = hourLimit;
    this.lastMinuteRefill = now();
    this.lastHourlyRefill = now();
    this.queue = [];
  }

  async acquire() {
    this.refill();
    if (this.minuteTokens >= 1 && this.hourlyTokens >= 1) {
      this.minuteTokens -= 1;
      this.hourlyTokens -= 1;
      return;
    }
    return new Promise((resolve) => this.queue.push({ resolve }));
  }

  // `private` in the seed's TypeScript.
  refill() {
    const now = this.now();
    this.minuteTokens = Math.min(this.minuteLimit, this.minuteTokens + ((now - this.lastMinuteRefill) / this.minuteMs) * this.minuteLimit);
    this.lastMinuteRefill = now;
    this.hourlyTokens = Math.min(this.hourLimit, this.hourlyTokens + ((now - this.lastHourlyRefill) / this.hourMs) * this.hourLimit);
    this.lastHourlyRefill = now;
    while (this.minuteTokens >= 1 && this.hourlyTokens >= 1 && this.queue.length) {
      this.minuteTokens -= 1;
      this.hourlyTokens -= 1;
      this.queue.shift().resolve();
    }
  }
}

const realSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The seed's hexRunWithRetry, with `send()` in place of the fetch: it resolves with
 * `{ ok, status }`. 429: wait 30 s x 2^attempt + 0-5 s of jitter, then acquire again;
 * 5xx: 3 s x 2^attempt; anything else throws, as in the seed.
 */
export async function hexRunWithRetry(runLimiter, send, maxRetries = 3, random = Math.random, sleep = realSleep) {
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    await runLimiter.acquire();
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
