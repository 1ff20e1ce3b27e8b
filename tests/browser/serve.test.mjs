// www/serve.mjs as a command and as a file server (no browser): flag mistakes
// are one line naming the flag, never a stack trace; the Node scripts beside
// the page (serve.mjs, screenshot.mjs, server/) are not served.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startDashboard } from '../../www/serve.mjs';
import { parseFlags } from '../../www/server/flags.mjs';

const serve = fileURLToPath(new URL('../../www/serve.mjs', import.meta.url));

test('flags: defaults, and each mistake named in one line', () => {
  assert.deepEqual(parseFlags([]), { port: 8080, speed: 60 });
  assert.deepEqual(parseFlags(['--port', '0', '--speed', '600']), { port: 0, speed: 600 });
  assert.match(parseFlags(['--help']).help, /--speed +how many times faster/);
  assert.match(parseFlags(['--help']).help, /--redis +run the pipeline as worker processes/);
  assert.deepEqual(parseFlags(['--redis', 'redis://127.0.0.1:6379']), { port: 8080, speed: 60, redis: 'redis://127.0.0.1:6379', workers: 3 });
  assert.deepEqual(parseFlags(['--redis', 'rediss://h.example:6380/2', '--workers', '2']), { port: 8080, speed: 60, redis: 'rediss://h.example:6380/2', workers: 2 });
  const cases = [
    [['--bogus'], /^unknown option '--bogus'; it takes --port, --speed, --redis, --workers, --help \(see 'node www\/serve\.mjs --help'\)$/],
    [['--redis'], /^--redis needs a value, e.g. --redis redis:\/\/127\.0\.0\.1:6379 /],
    [['--redis', 'http://127.0.0.1:6379'], /^--redis must be a redis:\/\/ or rediss:\/\/ URL with a host, e.g. redis:\/\/127\.0\.0\.1:6379; got 'http:\/\/127\.0\.0\.1:6379'$/],
    [['--redis', 'redis://h/x'], /^--redis must be a redis:\/\/ or rediss:\/\/ URL/],
    [['--redis', 'redis://h', '--workers', '17'], /^--workers must be a whole number from 1 to 16; got '17'$/],
    [['--redis', 'redis://h', '--workers', '1.5'], /^--workers must be/],
    [['--workers', '3'], /^--workers needs --redis <url>/],
    [['--port'], /^--port needs a value, e.g. --port 8081 \(see 'node www\/serve\.mjs --help'\)$/],
    [['--port', 'abc'], /^--port must be a whole number from 0 to 65535; got 'abc'$/],
    [['--port', '70000'], /^--port must be/],
    [['--speed', '0'], /^--speed must be a number from 1 to 100000; got '0'$/],
    [['8080'], /^unexpected argument '8080': flags only/],
  ];
  for (const [args, message] of cases) assert.match(parseFlags(args).error, message, args.join(' '));
});

test('the command exits 1 with one line on stderr, no stack trace', () => {
  const r = spawnSync(process.execPath, [serve, '--port', 'x'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "tollgate: --port must be a whole number from 0 to 65535; got 'x'\n");
});

test('the Node scripts beside the page are not served', async (t) => {
  const dashboard = await startDashboard({ port: 0, speed: 60, pipeline: false });
  t.after(() => dashboard.close());
  for (const path of ['/serve.mjs', '/screenshot.mjs', '/server/flags.mjs', '/server/pipeline.mjs']) {
    const res = await fetch(dashboard.url + path);
    await res.arrayBuffer();
    assert.equal(res.status, 404, path);
  }
  const page = await fetch(`${dashboard.url}/shared-quota.js`);
  assert.equal(page.status, 200, 'the page’s own modules are');
  await page.arrayBuffer();
});
