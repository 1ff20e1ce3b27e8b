// The seed's hand-written limiter and retry loop, transcribed from
// /work/shared/seeds/hex-rate-limits.md ("Rate Limiter Implementation", "Retry Strategy") into JS
// for the goodput benchmark. The algorithm is kept exactly, flaws included:
//
// - both windows are token buckets that start full and refill continuously, so against a server
//   that counts "20 per minute" strictly it can send 39 in the first minute and 119 in the first
//   hour (see the seeds README);
// - queued waiters are released only inside refill(), which only acquire() calls: when every
//   caller is queued and nobody calls acquire() again, the queue never moves. In the seed's own
//   code the only later calls to acquire() come from hexRunWithRetry after a 429 (it sleeps, then
//   loops back to acquire()), so the benchmark drives it with that loop and reports a stall
//   when nothing is left that could ever call acquire().
//
// The only change: the seed hard-codes 20/minute and 60/hour; here the two windows are
// parameters (defaults: the seed's), so the same code can be pointed at the Hexagraph and
// SecureCodingHub policies as a user copying it would.

export class HexRateLimiter {
  constructor({ minuteLimit = 20, minuteMs = 60_000, hourLimit = 60, hourMs = 3_600_000 } = {}) {
    this.minuteLimit = minuteLimit;
    this.minuteMs = minuteMs;
    this.hourLimit = hourLimit;
    this.hourMs = hourMs;
    this.minuteTokens = minuteLimit;
    this.hourlyTokens = hourLimit;
    this.lastMinuteRefill = Date.now();
    this.lastHourlyRefill = Date.now();
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
    const now = Date.now();
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

/**
 * The seed's hexRunWithRetry, with `send()` in place of the fetch: it resolves with
 * `{ ok, status }`. 429: wait 30 s x 2^attempt + 0-5 s of jitter, then acquire again;
 * 5xx: 3 s x 2^attempt; anything else throws, as in the seed.
 */
export async function hexRunWithRetry(runLimiter, send, maxRetries = 3, random = Math.random) {
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    await runLimiter.acquire();
    const res = await send();
    if (res.ok) return res;
    if (res.status === 429) {
      const delay = 30_000 * Math.pow(2, attempt) + random() * 5000;
      await new Promise((r) => setTimeout(r, delay));
      continue;
    }
    if (res.status >= 500 && attempt < maxRetries) {
      await new Promise((r) => setTimeout(r, Math.pow(2, attempt) * 3000));
      continue;
    }
    throw new Error(`Hex API ${res.status}`);
  }
  throw new Error('Max retries exceeded');
}
