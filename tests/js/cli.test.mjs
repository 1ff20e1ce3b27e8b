// The `tollgate` CLI, tested by running it as a user would: a child process,
// its exit code, stdout and stderr.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

test('bad usage: one line saying what is wrong and where to look, exit code 2, nothing on stdout', async () => {
  const cases = [
    [[], /no command given: plan, demo or inspect \(see 'tollgate --help'\)/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['plan', '--bogus'], /unknown option '--bogus' for 'plan'; it takes --preset, --jobs, --help, --now, --windows, --json \(see 'tollgate plan --help'\)/],
    [['plan', '-x'], /unknown option '-x' for 'plan'/],
    [['plan', 'extra'], /unexpected argument 'extra' for 'plan'/],
    [['plan', '--jobs'], /^tollgate: --jobs needs a value \(see 'tollgate plan --help'\)$/],
    [['plan', '--json=yes'], /^tollgate: --json takes no value/],
    [['plan', '--jobs', 'many'], /--jobs must be a whole number from 1 to 1000000; got 'many'/],
    [['plan', '--jobs', '0'], /--jobs must be a whole number/],
    [['demo', '--jobs', '100001'], /--jobs must be a whole number from 1 to 100000; got '100001' \(see 'tollgate demo --help'\)/],
    [['plan', '--preset', 'github'], /--preset must be one of hex, hexagraph, securecodinghub; got 'github'/],
    [['plan', '--preset', 'hex', '--windows', '1/1s'], /give --preset or --windows, not both/],
    [['plan', '--windows', '20 per minute'], /--windows must be limit\/period pairs, e\.g\. '20\/1m, 60\/1h' or '1000\/1d fixed'; got '20 per minute'/],
    [['plan', '--windows', '0/1m'], /--windows: windows\[0\]\.limit must be an integer from 1/],
    [['plan', '--now', 'yesterday'], /--now must be an ISO 8601 time/],
    [['demo', '--preset', 'hexagraph'], /demo runs the Hex client: --preset must be hex/],
    [['demo', '--speed', 'fast'], /--speed must be from 1 to 100000; got 'fast'/],
    [['demo', '--now', '2026-11-23T13:42:00Z'], /unknown option '--now' for 'demo'/],
  ];
  // Side by side: each is a process start, most of the test's time.
  const runs = await Promise.all(cases.map(([args]) => tollgate(...args)));
  for (const [i, [args, message]] of cases.entries()) {
    const { code, stdout, stderr } = runs[i];
    assert.equal(code, 2, `tollgate ${args.join(' ')}: ${stderr}`);
    assert.match(stderr, /^tollgate: [^\n]+\n$/, `one line: ${stderr}`);
    assert.match(stderr.trimEnd(), message);
    assert.doesNotMatch(stderr, /Usage:|ERR_PARSE_ARGS|To specify an option argument/);
    assert.equal(stdout, '');
  }
});

test('the --jobs limits in the help are those the commands enforce', async () => {
  const { stdout } = await tollgate('--help');
  const line = stdout.split('\n').find((l) => l.trimStart().startsWith('--jobs'));
  assert.match(line, /plan: requests, 1 to 1000000; demo: runs, 1 to 100000/);
  assert.equal((await tollgate('plan', '--jobs', '1000000', '--windows', '1000000/1d', '--json')).code, 0);
  assert.equal((await tollgate('plan', '--jobs', '1000001')).code, 2);
});

test('--version prints the package version', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  for (const flag of ['--version', '-V']) {
    const { code, stdout } = await tollgate(flag);
    assert.equal(code, 0);
    assert.equal(stdout, `tollgate ${version}\n`);
  }
});

test('plan --windows: any quota, the column named for its unit; the Hexagraph column says request', async () => {
  const { code, stdout, stderr } = await tollgate('plan', '--windows', '5/1m, 8/1h', '--jobs', '10', '--now', '2026-11-23T13:42:00Z');
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^tollgate plan: 10 requests under 5\/min AND 8\/h, from 2026-11-23T13:42:00\.000Z$/m);
  assert.match(stdout, /^\s+request\s+goes at\s+after start$/m);
  assert.match(stdout, /^\s+6\s+2026-11-23T13:43:00\.000Z\s+\+1m00s$/m);
  assert.match(stdout, /^\s+9\s+2026-11-23T14:42:00\.000Z\s+\+1h00m00s$/m);
  const fixed = await tollgate('plan', '--windows', '2/1m fixed', '--jobs', '3', '--now', '2026-11-23T13:42:30Z');
  assert.match(fixed.stdout, /under 2\/min \(calendar\)/);
  assert.match(fixed.stdout, /^\s+3\s+2026-11-23T13:43:00\.000Z\s+\+30s$/m);
  const hg = await tollgate('plan', '--preset', 'hexagraph', '--jobs', '3');
  assert.match(hg.stdout, /^\s+request\s+goes at/m);
  assert.doesNotMatch(hg.stdout, /trigger/);
  const hex = await tollgate('plan', '--jobs', '3');
  assert.match(hex.stdout, /^\s+trigger\s+goes at/m, 'Hex counts run triggers');
});

test('plan --json: the marks, the schedule and the ETA as data', async () => {
  const { code, stdout } = await tollgate('plan', '--preset', 'hex', '--jobs', '100', '--now', '2026-11-23T13:42:00Z', '--json');
  assert.equal(code, 0);
  const plan = JSON.parse(stdout);
  assert.deepEqual(Object.keys(plan), ['preset', 'what', 'unit', 'windows', 'from', 'jobs', 'marks', 'schedule', 'eta']);
  assert.equal(plan.preset, 'hex');
  assert.equal(plan.unit, 'trigger');
  assert.deepEqual(plan.windows, [{ limit: 20, perMs: 60_000, kind: 'sliding' }, { limit: 60, perMs: 3_600_000, kind: 'sliding' }]);
  assert.equal(plan.from, '2026-11-23T13:42:00.000Z');
  assert.deepEqual(plan.marks.map((m) => [m.n, m.afterMs]), [[1, 0], [20, 0], [21, 60_000], [60, 120_000], [61, 3_600_000], [100, 3_660_000]]);
  assert.deepEqual(plan.schedule.map((g) => [g.count, g.afterMs]), [[20, 0], [20, 60_000], [20, 120_000], [20, 3_600_000], [20, 3_660_000]]);
  assert.deepEqual(plan.eta, { at: '2026-11-23T14:43:00.000Z', afterMs: 3_660_000 });
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
  assert.equal(code, 1, 'a 429 is a failure for scripts');
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

test('inspect: exit 0 on a success, 1 on a 429 or a 5xx; --json gives the status, headers and decoded windows', async (t) => {
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    const status = Number(req.url.slice(1));
    res.writeHead(status, { 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '59', 'x-ratelimit-reset': '30', 'x-other': 'no' }).end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}`;
  const expected = [[200, 0], [204, 0], [404, 0], [429, 1], [500, 1], [503, 1]];
  const runs = await Promise.all(expected.map(([status]) => tollgate('inspect', `${base}/${status}`)));
  for (const [i, [status, code]] of expected.entries()) assert.equal(runs[i].code, code, `status ${status}`);
  const { code, stdout } = await tollgate('inspect', `${base}/200`, '--json');
  assert.equal(code, 0);
  const report = JSON.parse(stdout);
  assert.deepEqual(Object.keys(report), ['request', 'status', 'statusText', 'at', 'headers', 'decoded', 'windows']);
  assert.deepEqual(report.request, { method: 'GET', url: `${base}/200` });
  assert.equal(report.status, 200);
  assert.equal(report.headers['x-ratelimit-remaining'], '59');
  assert.equal(report.headers['x-other'], undefined);
  assert.equal(report.decoded.windows.length, 1);
  assert.equal(report.decoded.windows[0].limit, 60);
  assert.equal(report.decoded.windows[0].remaining, 59);
  assert.equal(report.decoded.retryAt, null);
  const refused = await tollgate('inspect', `${base}/429`, '--json');
  assert.equal(refused.code, 1);
  assert.equal(JSON.parse(refused.stdout).status, 429);
  const down = await tollgate('inspect', 'http://127.0.0.1:1/', '--json');
  assert.equal(down.code, 1);
  assert.match(JSON.parse(down.stdout).error, /\S/);
});

test('inspect shows the windows side by side: configured (--windows, --preset), learned from the response, in use', async (t) => {
  const { createServer } = await import('node:http');
  // express-rate-limit's draft-7 headers: 10 per 10 s.
  const server = createServer((req, res) => {
    res.writeHead(200, { ratelimit: 'limit=10, remaining=9, reset=10', 'ratelimit-policy': '10;w=10' }).end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${server.address().port}/v1/x`;
  const configured = await tollgate('inspect', url, '--windows', '20/10s, 100/1h');
  assert.equal(configured.code, 0, configured.stderr);
  // The configured 20 per 10 s is lowered to the stated 10; the hour has no stated counterpart.
  assert.match(configured.stdout, /^windows:\n\s+configured\s+learned\s+in use\n\s+per 10s\s+20 sliding\s+10 sliding\s+10 sliding, 1 used\n\s+per 1h00m00s\s+100 sliding\s+-\s+100 sliding, 1 used$/m);
  const learning = JSON.parse((await tollgate('inspect', url, '--json')).stdout);
  assert.deepEqual(learning.windows, {
    configured: [],
    learned: [{ limit: 10, perMs: 10_000, kind: 'sliding' }],
    inUse: [{ limit: 10, perMs: 10_000, kind: 'sliding', used: 1 }],
  });
  const hex = JSON.parse((await tollgate('inspect', url, '--preset', 'hex', '--json')).stdout);
  assert.deepEqual(hex.windows.configured, [{ limit: 20, perMs: 60_000, kind: 'sliding' }, { limit: 60, perMs: 3_600_000, kind: 'sliding' }]);
  assert.deepEqual(hex.windows.learned, [{ limit: 10, perMs: 10_000, kind: 'sliding' }]);
  assert.deepEqual(hex.windows.inUse.map((w) => [w.limit, w.perMs]), [[20, 60_000], [60, 3_600_000], [10, 10_000]]);
  const both = await tollgate('inspect', url, '--preset', 'hex', '--windows', '1/1s');
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--preset and --windows are alternatives/);
  const bad = await tollgate('inspect', url, '--windows', '10 per minute');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--windows must be limit\/period pairs/);
});

test('inspect against a server that says nothing: no window learned, none in use', async (t) => {
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => res.end('ok'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const { code, stdout } = await tollgate('inspect', `http://127.0.0.1:${server.address().port}/`);
  assert.equal(code, 0);
  assert.match(stdout, /windows: none configured, none learned from the server/);
});

test('on a terminal the progress line fits its width and is redrawn at most a few times a second', async () => {
  // `script` (util-linux) runs the demo on a pseudo-terminal 60 columns wide.
  const command = `stty cols 60; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} demo --jobs 30 --speed 2000`;
  const { code, stdout } = await new Promise((resolve, reject) => {
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, stdout: out }));
  });
  assert.equal(code, 0, stdout);
  const draws = stdout.split('\r').filter((part) => part.includes('done,')).map((part) => part.split('\x1b[K')[0]);
  assert.ok(draws.length >= 2, stdout);
  for (const line of draws) assert.ok(line.length <= 59, `${line.length} columns: ${line}`);
  assert.match(draws.at(-1), /^30\/30 done/);
  const real = Number(/\(([\d.]+) s real\)/.exec(stdout)[1]);
  // 4 a second at most, plus the first and the last.
  assert.ok(draws.length <= Math.ceil(real * 4) + 2, `${draws.length} redraws in ${real} s`);
});

test('www/serve.mjs: a bad flag is one line in our words, not a stack trace', async () => {
  const serve = fileURLToPath(new URL('../../www/serve.mjs', import.meta.url));
  const run = (...args) => new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [serve, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
  const cases = [
    [['--bogus'], /^tollgate: unknown option '--bogus'; it takes --port, --speed, --redis, --workers, --help \(see 'node www\/serve\.mjs --help'\)\n$/],
    [['--port'], /^tollgate: --port needs a value/],
    [['extra'], /^tollgate: unexpected argument 'extra'/],
  ];
  const runs = await Promise.all(cases.map(([args]) => run(...args)));
  for (const [i, [args, message]] of cases.entries()) {
    assert.notEqual(runs[i].code, 0, args.join(' '));
    assert.match(runs[i].stderr, message);
    assert.doesNotMatch(runs[i].stderr, /\n\s+at /, 'no stack trace');
  }
});
