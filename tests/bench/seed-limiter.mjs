export { HexRateLimiter, hexRunWithRetry } from '../../www/naive-limiter.js'; // the seed's limiter: one copy, the dashboard's
