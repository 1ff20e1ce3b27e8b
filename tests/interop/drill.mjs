// One drill: a backlog of 3x the server's limit through rateLimitedFetch
// configured right, wrong (twice the limit) or not at all, counted in the
// server's own log. `node tests/interop/drill.mjs` prints the table.
import { rateLimitedFetch } from 'tollgate';
import { expressServer, fastifyServer, flexibleServer } from './servers.mjs';

export const LIMIT = 10;
export const WINDOW_MS = 10_000;

export const SERVERS = [
  ['express-rate-limit', 'draft-6', (o) => expressServer({ ...o, headers: 'draft-6' })],
  ['express-rate-limit', 'draft-7', (o) => expressServer({ ...o, headers: 'draft-7' })],
  ['express-rate-limit', 'draft-8', (o) => expressServer({ ...o, headers: 'draft-8' })],
  ['express-rate-limit', 'legacy', (o) => expressServer({ ...o, headers: 'legacy' })],
  ['@fastify/rate-limit', 'default', (o) => fastifyServer({ ...o, headers: 'default' })],
  ['@fastify/rate-limit', 'draft', (o) => fastifyServer({ ...o, headers: 'draft' })],
  ['rate-limiter-flexible', 'X-RateLimit', (o) => flexibleServer(o)],
];

export const CONFIGS = {
  right: [{ limit: LIMIT, per: WINDOW_MS }],
  wrong: [{ limit: 2 * LIMIT, per: WINDOW_MS }],
  none: undefined,
};

/** Runs one server x configuration; resolves with its row. */
export async function drill([name, mode, start], config) {
  const server = await start({ limit: LIMIT, windowMs: WINDOW_MS });
  try {
    const windows = CONFIGS[config];
    const limited = rateLimitedFetch(fetch, windows === undefined ? {} : { routes: [{ url: '/work', windows }] });
    const n = 3 * LIMIT;
    const outcomes = await Promise.allSettled(Array.from({ length: n }, () => limited(`${server.url}/work`).then(async (r) => {
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`status ${r.status}`);
    })));
    const ok = server.log.filter((l) => l.status === 200);
    const refused = server.log.filter((l) => l.status === 429);
    const first = server.log[0].at;
    const last = ok.at(-1).at;
    // The least the rule allows: LIMIT per window from the first request, so the last of 3 x LIMIT at 2 windows.
    const ideal = 2 * WINDOW_MS;
    return {
      server: name, mode, config,
      accepted: ok.length, refused: refused.length,
      refusedAfterFirstWindow: refused.filter((l) => l.at - first >= WINDOW_MS).length,
      lost: outcomes.filter((o) => o.status === 'rejected').length,
      errors: outcomes.filter((o) => o.status === 'rejected').map((o) => String(o.reason)).slice(0, 2),
      elapsedMs: last - first,
      ratio: (last - first) / ideal,
    };
  } finally {
    await server.close();
  }
}

export function table(rows) {
  const lines = ['| server | headers | client config | accepted | refused (429) | lost | time vs ideal |', '|---|---|---|---:|---:|---:|---:|'];
  for (const r of rows) {
    lines.push(`| ${r.server} | ${r.mode} | ${r.config} | ${r.accepted} | ${r.refused} | ${r.lost} | ${(100 * r.ratio).toFixed(1)} % |`);
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await Promise.all(SERVERS.flatMap((s) => Object.keys(CONFIGS).map((c) => drill(s, c))));
  console.log(table(rows));
}
