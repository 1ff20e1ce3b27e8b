// One import for tests, the demo and the dashboard: clocks, the quota model and the three servers.
export { systemClock, manualClock, acceleratedClock } from './clock.mjs';
export { slidingLog, fixedBuckets, Quota } from './quota.mjs';
export { startHexServer } from './hex.mjs';
export { startHexagraphServer } from './hexagraph.mjs';
export { startSecureCodingHubServer } from './securecodinghub.mjs';
export { startMisbehavingServer } from './misbehaving.mjs';
