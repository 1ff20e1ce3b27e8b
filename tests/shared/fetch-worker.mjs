// A worker process running `rateLimitedFetch` with a Redis `store`, for
// tests/shared/fetch-store.test.mjs. Configured by one JSON argument; reports
// JSON lines on stdout (the protocol of worker.mjs: 'ready', then 'go' on
// stdin when `waitForGo`, then 'done' or 'error').
//   task 'hex':    `count` Run API triggers at once through presets.hex({ store }),
//                  its windows scaled to the test server's accelerated clock
//   task 'refuse': one trigger the server answers 429 + Retry-After (retry off)
//   task 'burst':  `count` triggers at once; reports how many were queued
import Redis from 'ioredis';
import { presets, rateLimitedFetch, redisStore } from 'tollgate';

const config = JSON.parse(process.argv[2]);
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

const client = new Redis(config.redisPort, '127.0.0.1', { retryStrategy: () => 50 });
client.on('error', () => {});
const store = redisStore(client);
// `noStore`: the same wrapper without the store (to see the tests fail).
const options = presets.hex(config.noStore ? {} : { store });
// The server's clock runs faster: its minute and hour are shorter here too.
options.routes[0].windows = config.windows;
if (config.task === 'refuse') options.retry = false;
const limited = rateLimitedFetch(fetch, options);
let queued = 0;
limited.events.addEventListener('queued', () => { queued++; });
limited.events.addEventListener('paused', (e) => say({ event: 'paused', until: e.detail.until }));

const post = async (i, headers = {}) => {
  const res = await limited(`${config.url}/api/v1/run/project-${process.pid}-${i}`, {
    method: 'POST', headers: { authorization: `Bearer ${config.token}`, ...headers },
  });
  await res.arrayBuffer();
  return res.status;
};

try {
  await client.ping();
  say({ event: 'ready' });
  if (config.waitForGo) await new Promise((r) => process.stdin.once('data', r));
  if (config.task === 'refuse') {
    // Retry off: the 429 comes back as a RateLimitError (or a response).
    const status = await post(0, { 'x-refuse': '1' }).catch((e) => (e?.name === 'RateLimitError' ? e.response?.status ?? 429 : Promise.reject(e)));
    say({ event: 'done', statuses: [status] });
  } else {
    const statuses = await Promise.all(Array.from({ length: config.count }, (_, i) => post(i)));
    say({ event: 'done', statuses, queued });
  }
} catch (error) {
  say({ event: 'error', message: String(error?.stack ?? error) });
  process.exitCode = 1;
} finally {
  process.stdin.destroy();
  for (const scope of limited.scopes()) await scope.limiter.close?.();
  client.disconnect();
}
