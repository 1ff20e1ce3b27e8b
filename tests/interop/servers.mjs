// Real rate-limiting middleware on 127.0.0.1, each with its own log of what
// it answered (the count that the interop test trusts, not the client's).
import http from 'node:http';
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import Fastify from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import { RateLimiterMemory } from 'rate-limiter-flexible';

const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));

/** express + express-rate-limit; `headers`: 'draft-6' | 'draft-7' | 'draft-8' | 'legacy'. */
export async function expressServer({ limit, windowMs, headers }) {
  const log = [];
  const app = express();
  app.use((req, res, next) => {
    res.on('finish', () => log.push({ at: Date.now(), status: res.statusCode }));
    next();
  });
  app.use(rateLimit({
    windowMs, limit,
    standardHeaders: headers === 'legacy' ? false : headers,
    legacyHeaders: headers === 'legacy',
    keyGenerator: () => 'client', // one quota for the test's client
  }));
  app.get('/work', (req, res) => res.json({ ok: true }));
  const server = http.createServer(app);
  return { url: await listen(server), log, close: () => new Promise((r) => server.close(r)) };
}

/** fastify + @fastify/rate-limit; `headers`: 'default' | 'draft'. */
export async function fastifyServer({ limit, windowMs, headers }) {
  const log = [];
  const app = Fastify();
  app.addHook('onResponse', async (req, reply) => { log.push({ at: Date.now(), status: reply.statusCode }); });
  await app.register(fastifyRateLimit, { max: limit, timeWindow: windowMs, enableDraftSpec: headers === 'draft', keyGenerator: () => 'client' });
  app.get('/work', async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: `http://127.0.0.1:${app.server.address().port}`, log, close: () => app.close() };
}

/** rate-limiter-flexible's RateLimiterMemory behind node:http, sending Retry-After and X-RateLimit-*. */
export async function flexibleServer({ limit, windowMs }) {
  const log = [];
  const limiter = new RateLimiterMemory({ points: limit, duration: windowMs / 1000 });
  const server = http.createServer(async (req, res) => {
    let status = 200;
    let r;
    try {
      r = await limiter.consume('client');
    } catch (rejected) {
      status = 429;
      r = rejected;
    }
    const headers = {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(r.remainingPoints),
      'x-ratelimit-reset': String(Math.ceil(r.msBeforeNext / 1000)),
    };
    if (status === 429) headers['retry-after'] = String(Math.ceil(r.msBeforeNext / 1000));
    res.writeHead(status, headers);
    res.end(status === 200 ? '{"ok":true}' : '{"error":"rate_limited"}');
    log.push({ at: Date.now(), status });
  });
  return { url: await listen(server), log, close: () => new Promise((r) => server.close(r)) };
}
