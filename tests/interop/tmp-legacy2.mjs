import { rateLimitedFetch } from 'tollgate';
import { expressServer } from './servers.mjs';
const cfg = process.argv[2] ?? 'none';
async function one(i) {
  const server = await expressServer({ limit: 10, windowMs: 10000, headers: 'legacy' });
  const limited = rateLimitedFetch(fetch, cfg === 'none' ? {} : { routes: [{ url: '/work', windows: [{ limit: 10, per: 10000 }] }] });
  const ev = [];
  const t00 = Date.now();
  for (const type of ['adapted', 'paused', 'throttled', 'reconciled']) limited.events.addEventListener(type, (e) => ev.push(`${type}@${e.detail.at - t00}:${JSON.stringify(e.detail.to ?? e.detail.until - t00 ?? '')}`));
  const resets = [];
  await Promise.all(Array.from({ length: 30 }, () => limited(`${server.url}/work`).then((r) => { resets.push([Date.now() - t00, r.headers.get('x-ratelimit-remaining'), Number(r.headers.get('x-ratelimit-reset')) * 1000 - t00]); return r.arrayBuffer(); })));
  await server.close();
  const t0 = server.log[0].at;
  const last = server.log.at(-1).at - t0;
  return { i, last, log: server.log.map((l) => `${l.at - t0}:${l.status}`).join(' '), ev, resets: resets.map((r) => r.join('/')).join(' ') };
}
const rows = await Promise.all(Array.from({ length: 8 }, (_, i) => new Promise((r) => setTimeout(r, i * 130)).then(() => one(i))));
for (const r of rows) if (r.last > 21_500) console.log(r);
console.log(rows.map((r) => r.last).join(' '));
