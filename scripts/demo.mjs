// `npm start`: 100 Hex run triggers pushed through a tollgate Limiter set to
// Hex's quota (20/min AND 60/h) against a local server that enforces exactly
// that with a strict sliding log, under an accelerated clock (an hour passes in
// seconds). Prints what the server accepted and refused.
//
//   node scripts/demo.mjs [--jobs 100] [--speed 600]
import { parseArgs } from 'node:util';
import { Limiter } from 'tollgate';
import { acceleratedClock, startHexServer } from '../tests/servers/index.mjs';

const { values } = parseArgs({
  options: { jobs: { type: 'string', default: '100' }, speed: { type: 'string', default: '600' } },
});
const jobs = Number(values.jobs);
const speed = Number(values.speed);
if (!Number.isInteger(jobs) || jobs < 1) throw new TypeError(`--jobs must be a whole number >= 1; got ${values.jobs}`);
if (!(speed >= 1 && speed <= 100_000)) throw new TypeError(`--speed must be from 1 to 100000; got ${values.speed}`);

// One clock for the server and the limiter: its timers run `speed` times fast too.
const time = acceleratedClock({ startMs: Date.UTC(2026, 10, 23, 13, 42), speed });
const clock = {
  now: time.now,
  setTimeout: (callback, ms) => setTimeout(callback, ms / speed),
  clearTimeout: (handle) => clearTimeout(handle),
};

const server = await startHexServer({ clock, runDurationMs: 1_000 });
// Every permit is completed below, so in-flight requests can be counted.
const limiter = new Limiter({ windows: [{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }], clock, countInFlight: true });
const start = clock.now();
const minutes = (ms) => `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1_000)).padStart(2, '0')}s`;

console.log(`tollgate demo: ${jobs} Hex run triggers, quota 20/min AND 60/h, clock x${speed}`);
console.log(`server ${server.url} (strict sliding log, judged at arrival)\n`);

let done = 0;
const statuses = new Map();
async function trigger(i) {
  const permit = await limiter.acquire();
  let res;
  try {
    res = await fetch(`${server.url}/api/v1/run/project-${i}`, {
      method: 'POST',
      headers: { authorization: 'Bearer demo-token', 'content-type': 'application/json' },
      body: JSON.stringify({ inputParams: { batch: i } }),
    });
  } finally {
    permit.complete(); // also when fetch fails: the request may have reached the server
  }
  await res.body?.cancel();
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  done += 1;
  if (done % 10 === 0 || done === jobs) {
    console.log(`  ${String(done).padStart(4)} sent   at +${minutes(clock.now() - start)}   queue ${limiter.waiting}`);
  }
}

try {
  await Promise.all(Array.from({ length: jobs }, (_, i) => trigger(i)));
} finally {
  await server.close();
}

const log = server.log.filter((r) => r.method === 'POST');
const accepted = log.filter((r) => r.status === 201).map((r) => r.at);
const refused = log.filter((r) => r.status === 429).length;
const maxIn = (ms) => Math.max(0, ...accepted.map((t) => accepted.filter((u) => u >= t && u < t + ms).length));
console.log(`
accepted ${accepted.length}, refused (429) ${refused}, other ${log.length - accepted.length - refused}
most in any minute: ${maxIn(60_000)} (limit 20); most in any hour: ${maxIn(3_600_000)} (limit 60)
virtual time: ${minutes(clock.now() - start)}`);
if (refused > 0 || accepted.length !== jobs) process.exitCode = 1;
