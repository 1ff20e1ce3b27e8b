// What `rateLimitedFetch` adds to a request: sequential GETs against a local node:http server on
// 127.0.0.1 (keep-alive, a 2-byte body, read to the end), with
// - raw: globalThis.fetch;
// - matched: the wrapper with a route that matches, limits far above what the run uses (every
//   request acquires, is counted, has its headers read for feedback, completes);
// - unmatched: the same wrapper, a URL no route matches (goes straight to fetch).
// The three run interleaved in blocks of 250 GETs (rotating the order), so drift and bursts of
// load from other processes hit all three alike; the overhead is the median over all blocks of
// (variant's block time / raw fetch's block time in the same group) - 1.
import http from 'node:http';
import { rateLimitedFetch } from 'tollgate';
import { fmt, header, log, median, out, table, target } from './lib.mjs';

const MAX_ROUNDS = 7;
const TIME_BUDGET_MS = 100_000;
const BLOCK = 250;
let requests = 10_000;

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
  res.end('ok');
});
server.keepAliveTimeout = 60_000;
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const HUGE = 4_294_967_295;
const limited = rateLimitedFetch(globalThis.fetch, {
  routes: [{ name: 'bench', method: 'GET', url: '/limited/*', windows: [{ limit: HUGE, per: '1m' }, { limit: HUGE, per: '1h' }] }],
});
const VARIANTS = [
  { name: 'raw `fetch`', fetch: globalThis.fetch, url: `${base}/plain/x` },
  { name: 'matched route', fetch: limited, url: `${base}/limited/x` },
  { name: 'unmatched route', fetch: limited, url: `${base}/plain/x` },
];

async function run(v, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const res = await v.fetch(v.url);
    if ((await res.text()) !== 'ok') throw new Error(`${v.name}: bad response`);
  }
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

header('`rateLimitedFetch` overhead, sequential GETs on 127.0.0.1');
// 10,000 GETs a variant a round; as many rounds as fit the time budget (3 to MAX_ROUNDS); if the
// first round alone takes over a third of the budget, the later ones use fewer GETs.
for (const v of VARIANTS) await run(v, 1000); // warm-up: connection, JIT
const times = VARIANTS.map(() => []); // per round, ms
const blocks = VARIANTS.map(() => []); // per block group, ms
const started = Date.now();
for (let round = 0; round < MAX_ROUNDS && (round < 3 || Date.now() - started < TIME_BUDGET_MS); round++) {
  const t = VARIANTS.map(() => 0);
  for (let b = 0; b < requests / BLOCK; b++) {
    for (let k = 0; k < VARIANTS.length; k++) {
      const i = (k + round + b) % VARIANTS.length;
      const ms = await run(VARIANTS[i], BLOCK);
      t[i] += ms;
      blocks[i].push(ms);
    }
  }
  t.forEach((ms, i) => times[i].push(ms / requests));
  if (round === 0 && Date.now() - started > TIME_BUDGET_MS / 3) requests = Math.max(BLOCK, Math.floor(requests / 3 / BLOCK) * BLOCK);
  log(`round ${round + 1}: ${fmt(requests)} GETs a variant, ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
const rounds = times[0].length;
server.closeAllConnections?.();
server.close();

const paired = (i) => blocks[i].map((ms, b) => ms / blocks[0][b] - 1).sort((x, y) => x - y);
const over = (i) => median(paired(i));
const us = (i) => (1000 * median(times[i])).toFixed(1);
const pct = (x) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
out(`10,000 sequential GETs a variant in the first round${requests < 10_000 ? `, ${fmt(requests)} in the others (to fit the time budget)` : ' and in each of the others'}, ${rounds} rounds after 1,000 of warm-up, ` +
  `interleaved in blocks of ${BLOCK}. Overhead: median over the ${fmt(blocks[0].length)} blocks of the ratio to raw fetch's block next to it; IQR: its interquartile range.\n`);
const spread = (i) => { const r = paired(i); return `${pct(r[Math.floor(r.length / 4)])} … ${pct(r[Math.floor((3 * r.length) / 4)])}`; };
out(table(['variant', 'µs per GET (median round)', 'overhead vs raw', 'IQR', 'target', 'result'], [
  [VARIANTS[0].name, us(0), '—', '—', '—', '—'],
  [VARIANTS[1].name, us(1), pct(over(1)), spread(1), '≤ 5%', target('`rateLimitedFetch` matched route ≤ 5% over raw fetch', pct(over(1)), over(1) <= 0.05)],
  [VARIANTS[2].name, us(2), pct(over(2)), spread(2), '≤ 1%', target('`rateLimitedFetch` unmatched route ≤ 1% over raw fetch', pct(over(2)), over(2) <= 0.01)],
]));
out();
