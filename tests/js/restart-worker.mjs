// One life of a process that triggers Hex runs through a Limiter and is
// restarted in between (tests/js/restart.test.mjs). Its argument is a JSON job:
//   { role: 'first' | 'second', url, clock: { originMs, realOrigin, speed },
//     windows, snapshotPath, sent, inFlight, sendDelayMs, restoreAs }
// 'first' sends `sent` requests that are answered, then admits `inFlight` more
// whose sending is held back by `sendDelayMs` of real time (a slow uplink), and
// saves its snapshot while they are still on their way; it exits once they are
// answered (a graceful stop that saves first). 'second' restores the snapshot
// and sends `sent` requests as fast as the limiter lets it; it is started
// early and waits for a line on stdin before restoring, so that the time a
// new Node process takes to start cannot blur the drill. Each prints
// { statuses, snapshot, admittedAt } as JSON.
import { readFileSync, writeFileSync } from 'node:fs';
import { Limiter } from 'tollgate';

const job = JSON.parse(process.argv[2]);
const { originMs, realOrigin, speed } = job.clock;
// Every process reads the same accelerated time: the wall clock's epoch in
// sub-millisecond precision, scaled from a common origin.
const clock = {
  now: () => Math.floor(originMs + (performance.timeOrigin + performance.now() - realOrigin) * speed),
  setTimeout: (callback, ms) => setTimeout(callback, Math.ceil(ms / speed)),
  clearTimeout: (handle) => clearTimeout(handle),
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let serial = 0;
const trigger = () => fetch(`${job.url}/api/v1/run/${job.role}-${++serial}`, {
  method: 'POST', headers: { authorization: 'Bearer restart-token' },
}).then((response) => response.status);

const statuses = [];
let snapshot;
let admittedAt;
if (job.role === 'first') {
  const limiter = new Limiter({ windows: job.windows, clock, countInFlight: true });
  for (let i = 0; i < job.sent; i++) {
    const permit = await limiter.acquire();
    statuses.push(await trigger());
    permit.complete();
  }
  const pending = [];
  for (let i = 0; i < job.inFlight; i++) {
    const permit = await limiter.acquire();
    pending.push(sleep(job.sendDelayMs).then(trigger).then((status) => { statuses.push(status); permit.complete(); }));
  }
  admittedAt = clock.now();
  snapshot = limiter.snapshot();
  writeFileSync(job.snapshotPath, JSON.stringify(snapshot));
  await Promise.all(pending);
} else {
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.destroy();
  snapshot = JSON.parse(readFileSync(job.snapshotPath, 'utf8'));
  if (job.restoreAs === 'sent-at-admission') {
    // What the defect did (issue 11, 6): requests in flight saved as sent at
    // the limiter's last clock reading, their admission, not when they can
    // have reached the server. The test's control run: it must draw 429s.
    const log = snapshot.windows[0].state.sliding.log;
    log.push([log.at(-1)[0], snapshot.inFlight]);
    snapshot.inFlight = 0;
  }
  const limiter = Limiter.restore(snapshot, { windows: job.windows, clock, countInFlight: true });
  await Promise.all(Array.from({ length: job.sent }, async () => {
    const permit = await limiter.acquire();
    statuses.push(await trigger());
    permit.complete();
  }));
}
process.stdout.write(JSON.stringify({ statuses, snapshot, admittedAt }));
