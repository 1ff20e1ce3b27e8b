// The `tollgate` CLI, tested by running it as a user would: a child process,
// its exit code, stdout and stderr.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../js/cli.mjs', import.meta.url));

function tollgate(...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

test('plan --preset hex --jobs 100: when the 1st, 20th, 21st, 60th, 61st and 100th triggers go, and the ETA', async () => {
  const { code, stdout, stderr } = await tollgate('plan', '--preset', 'hex', '--jobs', '100', '--now', '2026-11-23T13:42:00Z');
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
  assert.match(stdout, /100 Hex run triggers under 20\/min AND 60\/h, from 2026-11-23T13:42:00\.000Z/);
  const rows = [
    [1, '13:42:00', '+0s'],
    [20, '13:42:00', '+0s'],
    [21, '13:43:00', '+1m00s'],
    [60, '13:44:00', '+2m00s'],
    [61, '14:42:00', '+1h00m00s'],
    [100, '14:43:00', '+1h01m00s'],
  ];
  for (const [k, at, after] of rows) {
    assert.match(stdout, new RegExp(`^\\s+${k}\\s+2026-11-23T${at}\\.000Z\\s+\\${after}$`, 'm'), `trigger ${k}`);
  }
  assert.match(stdout, /^schedule: 20 at \+0s, 20 at \+1m00s, 20 at \+2m00s, 20 at \+1h00m00s, 20 at \+1h01m00s$/m);
  assert.match(stdout, /^ETA: the last \(100th\) goes at 2026-11-23T14:43:00\.000Z, \+1h01m00s from the start$/m);
});

test('plan: SecureCodingHub counts calendar minutes, Hexagraph a day', async () => {
  const sch = await tollgate('plan', '--preset', 'securecodinghub', '--jobs', '1100', '--now', '2026-11-23T13:42:30Z');
  assert.equal(sch.code, 0, sch.stderr);
  assert.match(sch.stdout, /^\s+60\s+2026-11-23T13:42:30\.000Z\s+\+0s$/m);
  assert.match(sch.stdout, /^\s+61\s+2026-11-23T13:43:00\.000Z\s+\+30s$/m, 'the next calendar minute, 30 s later');
  assert.match(sch.stdout, /^\s+1001\s+2026-11-23T14:42:30\.000Z\s+\+1h00m00s$/m);
  const hg = await tollgate('plan', '--preset', 'hexagraph', '--jobs', '1001', '--now', '2026-11-23T13:42:00Z');
  assert.equal(hg.code, 0, hg.stderr);
  assert.match(hg.stdout, /^ETA: the last \(1001st\) goes at 2026-11-24T13:42:00\.000Z, \+1d00h00m00s from the start$/m);
});

test('demo --jobs 30 --speed 2000: every trigger accepted, 429s 0, progress on stderr, exit 0', async () => {
  const started = performance.now();
  const { code, stdout, stderr } = await tollgate('demo', '--preset', 'hex', '--jobs', '30', '--speed', '2000');
  const seconds = (performance.now() - started) / 1000;
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  assert.match(stdout, /^accepted\s+30 of 30 triggers$/m);
  assert.match(stdout, /^429s\s+0$/m);
  assert.match(stdout, /^retries\s+0$/m);
  assert.match(stdout, /^runs\s+30 COMPLETED$/m);
  const wall = /^wall time\s+(\S+) virtual/m.exec(stdout);
  assert.ok(wall, stdout);
  assert.match(stdout, /^plan\s+\S+, the ETA at the start \(last trigger at \+1m00s,/m, '30 triggers: 20 now, 10 a minute later (at the earliest)');
  // Not a terminal: plain lines, no carriage returns, ending with the whole batch done.
  assert.ok(!stderr.includes('\r'));
  assert.match(stderr, /^ 0\/30 done, 0 started, 0 failed, at \+\S+; ETA \+\S+ \(\d\d:\d\d:\d\d UTC\)$/m);
  assert.match(stderr, /^30\/30 done, 30 started, 0 failed/m);
  assert.ok(seconds < 20, `took ${seconds.toFixed(1)} s`);
});

test('--help prints the usage on stdout and exits 0', async () => {
  for (const args of [['--help'], ['-h'], ['plan', '--help']]) {
    const { code, stdout, stderr } = await tollgate(...args);
    assert.equal(code, 0, args.join(' '));
    assert.match(stdout, /^Usage: tollgate <command> \[options\]/);
    assert.match(stdout, /tollgate plan --preset hex --jobs 100/);
    assert.equal(stderr, '');
  }
});

test('bad usage: a clear message and the usage on stderr, exit code 2, nothing on stdout', async () => {
  const cases = [
    [[], /no command given/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['plan', '--bogus'], /unknown option '--bogus' for 'plan'/],
    [['plan', 'extra'], /unexpected argument 'extra' for 'plan'/],
    [['plan', '--jobs'], /--jobs/],
    [['plan', '--jobs', 'many'], /--jobs must be a whole number from 1 to 1000000; got 'many'/],
    [['plan', '--jobs', '0'], /--jobs must be a whole number/],
    [['plan', '--preset', 'github'], /--preset must be one of hex, hexagraph, securecodinghub; got 'github'/],
    [['plan', '--now', 'yesterday'], /--now must be an ISO 8601 time/],
    [['demo', '--preset', 'hexagraph'], /demo runs the Hex client: --preset must be hex/],
    [['demo', '--speed', 'fast'], /--speed must be from 1 to 100000; got 'fast'/],
    [['demo', '--now', '2026-11-23T13:42:00Z'], /unknown option '--now' for 'demo'/],
  ];
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await tollgate(...args);
    assert.equal(code, 2, `tollgate ${args.join(' ')}: ${stderr}`);
    assert.match(stderr, /^tollgate: /);
    assert.match(stderr, message);
    assert.match(stderr, /Usage: tollgate <command>/);
    assert.equal(stdout, '');
  }
});

test('tollgate inspect <url>: one request, the rate-limit headers raw and decoded', async (t) => {
  const { createServer } = await import('node:http');
  const seen = [];
  const server = createServer((req, res) => {
    seen.push([req.method, req.headers.authorization]);
    res.writeHead(429, {
      'retry-after': '60', 'x-ratelimit-limit': '60', 'x-ratelimit-window': 'per_minute',
      'ratelimit-policy': '"burst";q=100;w=60', ratelimit: '"burst";r=0;t=30', 'x-other': 'not shown',
    }).end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${server.address().port}/v1/x`;
  const { code, stdout } = await tollgate('inspect', url, '--method', 'HEAD', '--header', 'authorization: Bearer k1');
  assert.equal(code, 0);
  assert.deepEqual(seen, [['HEAD', 'Bearer k1']]);
  assert.match(stdout, /^429 Too Many Requests {2}HEAD http:\/\/127\.0\.0\.1:\d+\/v1\/x/);
  assert.match(stdout, /retry-after: 60/);
  assert.doesNotMatch(stdout, /x-other/);
  assert.match(stdout, /retry after: \S+Z \(in 1m00s\)/);
  assert.match(stdout, /policy 'burst', limit 100, per 1m00s, remaining 0, resets \S+Z \(in 30s\)/);
  assert.match(stdout, /server clock: /);
  const bad = await tollgate('inspect', 'not a url');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not a URL: 'not a url'/);
  const down = await tollgate('inspect', 'http://127.0.0.1:1/');
  assert.equal(down.code, 1);
  assert.match(down.stderr, /failed: /);
});
