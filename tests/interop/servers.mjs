// Real rate-limiting middleware on 127.0.0.1, each with its own log of what
// it answered (the count that the interop test trusts, not the client's).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** Where Debian's nginx is (installed by .ci/setup.sh), or undefined. */
export function nginxPath() {
  for (const dir of (process.env.PATH ?? '').split(':').concat('/usr/sbin')) {
    const path = `${dir}/nginx`;
    if (dir && existsSync(path)) return path;
  }
  return undefined;
}

/** A port free on 127.0.0.1 a moment ago (nginx cannot listen on port 0 and say which it got). */
async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Debian's nginx with `limit_req` as its docs configure it: `rate` per second
 * and a `burst` served at once (`nodelay`), i.e. a bucket of `limit` refilled
 * at `limit` per `windowMs` (rate = limit / windowMs, burst = limit - 1), the
 * excess refused with 429 and no rate-limit header nor Retry-After. Runs
 * unprivileged from a temp dir (`-p`), in the foreground, one process; its log
 * is read from its own access log (`$msec $status`) once it has stopped.
 */
export async function nginxServer({ limit, windowMs }) {
  const nginx = nginxPath();
  if (nginx === undefined) throw new Error('nginx is not installed: run .ci/setup.sh (it installs nginx-light)');
  const perSecond = (limit * 1000) / windowMs;
  if (!Number.isInteger(perSecond) || perSecond < 1) throw new RangeError(`nginx rates are whole requests per second; got ${limit} per ${windowMs} ms`);
  const dir = await mkdtemp(join(tmpdir(), 'tollgate-nginx-'));
  await mkdir(join(dir, 'www'));
  await writeFile(join(dir, 'www', 'work'), '{"ok":true}');
  for (let tries = 1; ; tries++) {
    const port = await freePort();
    const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  log_format tollgate '$msec $status';
  access_log ${dir}/access.log tollgate;
  limit_req_zone $server_name zone=work:1m rate=${perSecond}r/s;
  limit_req_status 429;
  server {
    listen 127.0.0.1:${port};
    server_name tollgate;
    root ${dir}/www;
    default_type application/json;
    # limit_req runs in the preaccess phase: a static file (content phase) is
    # limited, where a \`return 200\` (rewrite phase) would not be.
    location = /work { limit_req zone=work burst=${limit - 1} nodelay; }
  }
}
`;
    await writeFile(join(dir, 'nginx.conf'), conf);
    const child = spawn(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const url = `http://127.0.0.1:${port}`;
    const up = await Promise.race([waitForPort(port), exited.then(() => false)]);
    if (!up) {
      const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
      if (tries < 5 && /Address already in use/.test(log + stderr)) continue;
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`nginx did not start: ${(log + stderr).trim().split('\n').slice(-3).join(' | ')}`);
    }
    const log = [];
    // nginx outlives a parent that exits without closing it: not this one.
    const orphaned = () => child.kill('SIGKILL');
    process.once('exit', orphaned);
    return {
      url, log,
      /** Stops nginx (SIGQUIT: gracefully, its access log complete), then reads that log into `log`. */
      close: async () => {
        process.off('exit', orphaned);
        child.kill('SIGQUIT');
        const stopped = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(r, 5_000, false))]);
        if (!stopped) {
          child.kill('SIGKILL');
          await exited;
        }
        try {
          const text = await readFile(join(dir, 'access.log'), 'utf8');
          for (const line of text.split('\n')) {
            const [msec, status] = line.split(' ');
            if (status !== undefined) log.push({ at: Math.round(Number(msec) * 1000), status: Number(status) });
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  }
}

/** Resolves true once something accepts connections on the port (within 5 s), else false. */
async function waitForPort(port) {
  const until = Date.now() + 5_000;
  while (Date.now() < until) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}
