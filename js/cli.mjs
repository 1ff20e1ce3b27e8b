#!/usr/bin/env node
// `tollgate`: plan a batch under a quota, or watch one go through the Hex client
// against a local Hex-like server under a fast-forwarded clock.
//
//   tollgate plan --preset hex --jobs 100 [--now 2026-11-23T13:42:00Z] [--json]
//   tollgate plan --windows '20/1m, 60/1h' --jobs 100
//   tollgate demo --preset hex --jobs 100 [--speed 600] [--concurrency 10]
//   tollgate inspect <url> [--method GET] [--header 'name: value' ...] [--preset hex | --windows '20/1m'] [--json]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tollgate from './node.mjs';

const { Limiter, presets, parseDuration, hexClient, parseRateLimitHeaders, rateLimitedFetch } = tollgate;

const JOBS = { plan: 1_000_000, demo: 100_000 };
/** The progress line's fastest redraw on a terminal, real ms. */
const REDRAW_MS = 250;

const USAGE = `Usage: tollgate <command> [options]

Commands:
  plan   when each of the next --jobs requests may go under a quota, and the ETA
  demo   --jobs Hex runs through the Hex client against a local Hex-like server, fast-forwarded
  inspect <url>  send one request; print the rate-limit headers the server sent, decoded,
                 and the windows: configured (--preset, --windows), learned from the server, in use

Options:
  --preset <name>     hex | hexagraph | securecodinghub (demo: hex only)  [default: hex; inspect: none]
  --windows <list>    plan, inspect: any quota instead of a preset, e.g. '20/1m, 60/1h'
                      (limit/period; add 'fixed' for calendar windows: '1000/1d fixed')
  --jobs <n>          plan: requests, 1 to ${JOBS.plan}; demo: runs, 1 to ${JOBS.demo}  [default: 100]
  --now <time>        plan: start from this ISO 8601 time                 [default: now]
  --speed <x>         demo: how many times faster than real time, 1 to 100000  [default: 600]
  --concurrency <n>   demo: runs in progress at once, 1 to 1000           [default: 10]
  --method <m>        inspect: the request method                         [default: GET]
  --header <h>        inspect: a request header 'name: value' (repeatable)
  --json              plan, inspect: print one JSON object instead of text
  -h, --help          show this help
  -V, --version       print tollgate's version

Examples:
  tollgate plan --preset hex --jobs 100
  tollgate plan --preset hexagraph --jobs 1500 --now 2026-11-23T13:42:00Z
  tollgate plan --windows '20/1m, 60/1h' --jobs 500 --json
  tollgate demo --preset hex --jobs 100
  tollgate inspect https://api.example.com/v1/status --header 'authorization: Bearer $TOKEN'
  tollgate inspect https://api.example.com/v1/status --windows '100/1m' --json

Exit status: 0 done; 1 the demo drew a 429 or a run did not complete, or inspect got
a 429, a 5xx or no response; 2 bad usage.`;

/** `unit`: what one of the quota's units is, the plan's first column. */
const PRESETS = {
  hex: { what: 'Hex run triggers', unit: 'trigger', options: () => presets.hex() },
  hexagraph: { what: 'Hexagraph requests', unit: 'request', options: () => presets.hexagraph() },
  securecodinghub: { what: 'SecureCodingHub requests', unit: 'request', options: () => presets.secureCodingHub() },
};

const OPTIONS = {
  preset: { type: 'string' }, // hex when neither it nor --windows is given
  jobs: { type: 'string', default: '100' },
  help: { type: 'boolean', short: 'h' },
};
const COMMANDS = {
  plan: { options: { ...OPTIONS, now: { type: 'string' }, windows: { type: 'string' }, json: { type: 'boolean' } }, run: plan },
  demo: { options: { ...OPTIONS, speed: { type: 'string', default: '600' }, concurrency: { type: 'string', default: '10' } }, run: demo },
  inspect: {
    options: {
      method: { type: 'string', default: 'GET' }, header: { type: 'string', multiple: true, default: [] },
      preset: { type: 'string' }, windows: { type: 'string' },
      json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    positionals: true,
    run: inspect,
  },
};

/** Bad usage: one line saying what is wrong, and where to look. */
class UsageError extends Error {
  constructor(message, command) {
    super(message);
    this.command = command;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  const help = error.command ? `tollgate ${error.command} --help` : 'tollgate --help';
  process.stderr.write(`tollgate: ${error.message} (see '${help}')\n`);
  process.exitCode = 2;
}

async function main(argv) {
  const [command, ...rest] = argv;
  if (command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === '-V' || command === '--version') {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    process.stdout.write(`tollgate ${version}\n`);
    return 0;
  }
  if (command === undefined) throw new UsageError(`no command given: plan, demo or inspect`);
  if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command '${command}': plan, demo or inspect`);
  const { options, positionals: allowPositionals = false } = COMMANDS[command];
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: rest, options, strict: true, allowPositionals }));
  } catch (error) {
    throw new UsageError(argumentError(error, command, options), command);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    return await COMMANDS[command].run(values, positionals);
  } catch (error) {
    if (error instanceof UsageError) error.command ??= command;
    throw error;
  }
}

/** Our words for parseArgs' errors (its own explain at length how to pass values starting with '-'). */
function argumentError(error, command, options) {
  const quoted = /'([^']+)'/.exec(error.message)?.[1] ?? '';
  const flag = quoted.split(' ')[0];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const known = Object.keys(options).map((o) => `--${o}`).join(', ');
      return `unknown option '${flag}' for '${command}'; it takes ${known}`;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${quoted}' for '${command}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = /--([\w-]+)/.exec(error.message)?.[1];
      if (name && options[name]?.type === 'boolean') return `--${name} takes no value`;
      return `--${name ?? flag} needs a value`;
    }
    default:
      return error.message.split('\n')[0];
  }
}

/**
 * One request; the rate-limit headers it brought back, raw and decoded, and
 * the windows: configured (--preset or --windows), learned from the response,
 * and in use. It goes through rateLimitedFetch (no retry), so what is learned
 * is what a wrapper would learn. Exit 1 on a 429, a 5xx or no response, so
 * scripts can tell a refused quota.
 */
async function inspect(values, positionals) {
  if (positionals.length !== 1) throw new UsageError(`inspect takes one URL; got ${positionals.length}`);
  let url;
  try {
    url = new URL(positionals[0]);
  } catch {
    throw new UsageError(`not a URL: '${positionals[0]}'`);
  }
  if (!/^[A-Za-z]+$/.test(values.method)) throw new UsageError(`--method must be an HTTP method; got '${values.method}'`);
  const method = values.method.toUpperCase();
  const headers = new Headers();
  for (const h of values.header) {
    const at = h.indexOf(':');
    if (at < 1) throw new UsageError(`--header must look like 'name: value'; got '${h}'`);
    headers.append(h.slice(0, at).trim(), h.slice(at + 1).trim());
  }
  if (values.preset !== undefined && values.windows !== undefined) throw new UsageError('--preset and --windows are alternatives: give one');
  const configured = values.windows !== undefined ? parseWindows(values.windows) : values.preset !== undefined ? preset(values.preset).windows : undefined;
  const limited = rateLimitedFetch(fetch, { retry: false, ...(configured ? { routes: [{ url: '*', windows: configured }] } : {}) });
  let res;
  let failure;
  try {
    res = await limited(url, { method, headers });
  } catch (error) {
    // A refusal (no retry here) carries the response that refused; a network error none.
    res = error.response;
    failure = error;
  }
  if (res === undefined) {
    const reason = failure.cause?.message ?? failure.message;
    if (values.json) process.stdout.write(`${JSON.stringify({ request: { method, url: url.href }, error: reason }, null, 2)}\n`);
    process.stderr.write(`tollgate: ${method} ${url.href} failed: ${reason}\n`);
    return 1;
  }
  const now = Date.now();
  await res.body?.cancel().catch(() => {});
  const report = { ...inspectReport(method, url, res, now), windows: scopeWindows(limited.scopes()[0]) };
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatInspect(report, now)}\n`);
  return res.status === 429 || res.status >= 500 ? 1 : 0;
}

/** What inspect found, as data (--json prints it as is). Times in ms since the epoch. */
function inspectReport(method, url, res, now) {
  const rateLimitHeaders = [...res.headers].filter(([name]) => /^(date|retry-after|x-rate-?limit-|ratelimit)/i.test(name));
  const f = parseRateLimitHeaders(res.headers, now);
  return {
    request: { method, url: url.href },
    status: res.status,
    statusText: res.statusText,
    at: now,
    headers: Object.fromEntries(rateLimitHeaders),
    decoded: {
      serverOffsetMs: f.serverOffsetMs ?? null,
      retryAt: f.retryAtMs ?? null,
      windows: f.windows.map((w) => ({
        name: w.name ?? null, limit: w.limit ?? null, windowMs: w.windowMs ?? null, remaining: w.remaining ?? null, resetAt: w.resetAtMs ?? null,
      })),
    },
  };
}

/** A scope's windows: configured, learned from the server, and in use (with what they count). */
function scopeWindows(scope) {
  const plain = ({ limit, perMs, kind }) => ({ limit, perMs, kind });
  return {
    configured: scope ? scope.configured.map(plain) : [],
    learned: scope ? scope.learned.map(plain) : [],
    // A learning scope that has learned nothing admits everything: no window in use.
    inUse: scope ? scope.limiter.usage().filter((u) => u.limit < 4_294_967_295).map((u) => ({ ...plain(u), used: u.used })) : [],
  };
}

/** The windows side by side, a row per window length. */
function formatWindows(windows) {
  const lengths = [...new Set([...windows.configured, ...windows.learned, ...windows.inUse].map((w) => w.perMs))].sort((a, b) => a - b);
  if (lengths.length === 0) return ['windows: none configured, none learned from the server (nothing limits these requests)'];
  const cell = (w, extra = '') => (w ? `${w.limit} ${w.kind}${extra}` : '-');
  const rows = [['', 'configured', 'learned', 'in use'], ...lengths.map((perMs) => {
    const inUse = windows.inUse.find((w) => w.perMs === perMs);
    return [
      `per ${span(perMs).slice(1)}`,
      cell(windows.configured.find((w) => w.perMs === perMs)),
      cell(windows.learned.find((w) => w.perMs === perMs)),
      cell(inUse, inUse ? `, ${inUse.used} used` : ''),
    ];
  })];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return ['windows:', ...rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}`)];
}

function formatInspect(report, now) {
  const { request, decoded } = report;
  const out = [`${report.status} ${report.statusText}  ${request.method} ${request.url}`, ''];
  const raw = Object.entries(report.headers);
  out.push(raw.length ? 'rate-limit headers:' : 'no rate-limit headers');
  for (const [name, value] of raw) out.push(`  ${name}: ${value}`);
  const bare = (ms) => span(ms).slice(1);
  const at = (ms) => `${new Date(ms).toISOString()} (in ${bare(Math.max(0, ms - now))})`;
  out.push('', 'decoded:');
  const offset = decoded.serverOffsetMs;
  if (offset !== null) out.push(`  server clock: ${offset >= 0 ? '+' : '-'}${bare(Math.abs(offset))} from this machine's (Date is whole seconds)`);
  if (decoded.retryAt !== null) out.push(`  retry after: ${at(decoded.retryAt)}`);
  for (const w of decoded.windows) {
    const parts = [w.name !== null ? `policy '${w.name}'` : 'window'];
    if (w.limit !== null) parts.push(`limit ${w.limit}`);
    if (w.windowMs !== null) parts.push(`per ${bare(w.windowMs)}`);
    if (w.remaining !== null) parts.push(`remaining ${w.remaining}`);
    if (w.resetAt !== null) parts.push(`resets ${at(w.resetAt)}`);
    out.push(`  ${parts.join(', ')}`);
  }
  if (decoded.retryAt === null && decoded.windows.length === 0) out.push('  nothing about limits');
  out.push('', ...formatWindows(report.windows));
  return out.join('\n');
}

function integer(value, flag, min, max) {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}; got '${value}'`);
  }
  return n;
}

function preset(name) {
  if (!Object.hasOwn(PRESETS, name)) throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}; got '${name}'`);
  const windows = PRESETS[name].options().routes[0].windows;
  return { name, what: PRESETS[name].what, unit: PRESETS[name].unit, windows };
}

/** '20/1m, 60/1h' or '1000/1d fixed': limit/period[ kind], comma-separated. */
function parseWindows(text) {
  const example = "e.g. '20/1m, 60/1h' or '1000/1d fixed'";
  const windows = text.split(',').map((part) => {
    const m = /^\s*(\d+)\s*\/\s*(\d+(?:\.\d+)?\s*(?:ms|s|m|h|d))(?:\s+(sliding|fixed|bucket))?\s*$/.exec(part);
    if (!m) throw new UsageError(`--windows must be limit/period pairs, ${example}; got '${part.trim()}'`);
    return { limit: Number(m[1]), per: m[2].replace(/\s+/g, ''), ...(m[3] ? { kind: m[3] } : {}) };
  });
  try {
    new Limiter({ windows }); // the library's own checks (limits, periods)
  } catch (error) {
    throw new UsageError(`--windows: ${error.message.replace(/`/g, '')}`);
  }
  return windows;
}
/** '20/min AND 60/h'; '(calendar)' marks a fixed window. */
function describe(windows) {
  const unit = { 1_000: 's', 60_000: 'min', 3_600_000: 'h', 86_400_000: 'day' };
  return windows.map((w) => {
    const ms = w.perMs ?? parseDuration(w.per, 'per');
    return `${w.limit}/${unit[ms] ?? span(ms).slice(1)}${w.kind === 'fixed' ? ' (calendar)' : ''}`;
  }).join(' AND ');
}

/** '+1h01m00s'; sub-second remainders as ms. */
function span(ms) {
  if (ms < 1_000) return `+${Math.round(ms)}${ms > 0 ? 'ms' : 's'}`;
  const s = Math.round(ms / 1_000);
  const [d, h, m, sec] = [Math.floor(s / 86_400), Math.floor(s / 3_600) % 24, Math.floor(s / 60) % 60, s % 60];
  const two = (n) => String(n).padStart(2, '0');
  if (d > 0) return `+${d}d${two(h)}h${two(m)}m${two(sec)}s`;
  if (h > 0) return `+${h}h${two(m)}m${two(sec)}s`;
  if (m > 0) return `+${m}m${two(sec)}s`;
  return `+${sec}s`;
}

/** The plan as data: what --json prints, and what the text shows. */
function planReport(values) {
  if (values.windows !== undefined && values.preset !== undefined) throw new UsageError('give --preset or --windows, not both');
  const quota = values.windows === undefined
    ? preset(values.preset ?? 'hex')
    : { name: null, what: 'requests', unit: 'request', windows: parseWindows(values.windows) };
  const jobs = integer(values.jobs, 'jobs', 1, JOBS.plan);
  const now = values.now === undefined ? Date.now() : Date.parse(values.now);
  if (!Number.isFinite(now)) throw new UsageError(`--now must be an ISO 8601 time such as 2026-11-23T13:42:00Z; got '${values.now}'`);
  const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} }; // planning never waits
  const times = new Limiter({ windows: quota.windows, clock }).plan(jobs);
  // The first and last, and each side of every window's limit: where the schedule bends.
  const marks = new Set([1, jobs]);
  for (const w of quota.windows) for (const k of [w.limit, w.limit + 1]) if (k <= jobs) marks.add(k);
  const schedule = [];
  for (const at of times) {
    if (schedule.length > 0 && schedule.at(-1).at === at) schedule.at(-1).count += 1;
    else schedule.push({ at, count: 1 });
  }
  const moment = (at) => ({ at: new Date(at).toISOString(), afterMs: at - now });
  return {
    preset: quota.name,
    what: quota.what,
    unit: quota.unit,
    windows: quota.windows.map((w) => ({ limit: w.limit, perMs: parseDuration(w.per, 'per'), kind: w.kind ?? 'sliding' })),
    from: new Date(now).toISOString(),
    jobs,
    marks: [...marks].sort((a, b) => a - b).map((n) => ({ n, ...moment(times[n - 1]) })),
    schedule: schedule.map((g) => ({ count: g.count, ...moment(g.at) })),
    eta: moment(times.at(-1)),
  };
}

function plan(values) {
  const report = planReport(values);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const { jobs, what, unit } = report;
  const out = [`tollgate plan: ${jobs} ${what} under ${describe(report.windows)}, from ${report.from}`, ''];
  const width = Math.max(7, unit.length);
  out.push(`  ${unit.padStart(width)}  goes at                     after start`);
  for (const m of report.marks) out.push(`  ${String(m.n).padStart(width)}  ${m.at}    ${span(m.afterMs)}`);
  const shown = report.schedule.slice(0, 8).map((g) => `${g.count} at ${span(g.afterMs)}`);
  out.push('', `schedule: ${shown.join(', ')}${report.schedule.length > 8 ? `, ... (${report.schedule.length} steps)` : ''}`);
  out.push(`ETA: the last (${ordinal(jobs)}) goes at ${report.eta.at}, ${span(report.eta.afterMs)} from the start`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] ?? 'th');
  return `${n}${suffix}`;
}

async function demo(values) {
  values.preset ??= 'hex';
  if (values.preset !== 'hex') {
    preset(values.preset); // an unknown name gets the list of presets
    throw new UsageError(`demo runs the Hex client: --preset must be hex; got '${values.preset}'`);
  }
  const { windows } = preset('hex');
  const jobs = integer(values.jobs, 'jobs', 1, JOBS.demo);
  const speed = Number(values.speed);
  if (!(speed >= 1 && speed <= 100_000)) throw new UsageError(`--speed must be from 1 to 100000; got '${values.speed}'`);
  const concurrency = integer(values.concurrency, 'concurrency', 1, 1000);
  let servers;
  try {
    // The package ships the Hex-like server of the tests (and only it) for this demo.
    servers = await import('../tests/servers/hex.mjs');
  } catch (error) {
    throw new Error(`demo needs the Hex-like server in tests/servers/hex.mjs: ${error.message}`);
  }

  const clock = demoClock(Date.now(), speed);
  // Runs take 15 to 45 s, spread evenly over the projects (30 s on average).
  const runMs = (projectId) => 15_000 + ((Number(projectId.replace(/\D/g, '')) * 7) % 31) * 1_000;
  const server = await servers.startHexServer({ clock, runDurationMs: runMs });
  const hex = hexClient({ baseUrl: server.url, token: 'demo-token', clock, fetch: clock.holdingFetch(fetch) });
  await hex.listProjects(); // warm up the HTTP stack: its first request takes a while
  let retries = 0;
  hex.fetch.events.addEventListener('retry', () => { retries += 1; });
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);

  const triggerPlan = hex.plan(jobs);
  const lastTriggerAfter = triggerPlan.at(-1) - triggerPlan[0]; // the schedule's own span: the first goes at once
  process.stdout.write(`tollgate demo: ${jobs} Hex runs through the Hex client, quota ${describe(windows)} per token,\n` +
    `concurrency ${concurrency}, runs of 15-45 s; clock x${speed}, standing still while a request is in flight\n` +
    `server ${server.url} (strict sliding log, judged at arrival)\n`);
  const start = clock.now();
  const realStart = performance.now();
  const bar = progressBar(process.stderr, clock, start);
  let planned;
  let results;
  try {
    results = await hex.runBatch(
      Array.from({ length: jobs }, (_, i) => ({ id: `project-${i + 1}`, params: { batch: i + 1 } })),
      {
        concurrency,
        expectedRunDuration: '30s',
        signal: controller.signal,
        onProgress: (p) => {
          planned ??= p.etaAt;
          bar.update(p);
        },
      },
    );
  } catch (error) {
    if (!controller.signal.aborted) throw error;
    process.stderr.write('\ntollgate: interrupted; runs already triggered keep running on the server\n');
    return 130;
  } finally {
    bar.end();
    process.off('SIGINT', onSigint);
    await server.close();
  }

  const wall = clock.now() - start;
  const triggers = server.log.filter((r) => r.method === 'POST' && /^\/api\/v1\/run\/[^/]+$/.test(r.path));
  const accepted = triggers.filter((r) => r.status >= 200 && r.status < 300).length;
  const refused = triggers.filter((r) => r.status === 429).length;
  const counts = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  const off = wall - (planned - start);
  process.stdout.write([
    '',
    `accepted   ${accepted} of ${jobs} triggers`,
    `429s       ${refused}`,
    `retries    ${retries}`,
    `runs       ${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ')}`,
    `wall time  ${span(wall).slice(1)} virtual (${((performance.now() - realStart) / 1_000).toFixed(1)} s real)`,
    `plan       ${span(planned - start).slice(1)}, the ETA at the start (last trigger at ${span(lastTriggerAfter)}, runs taken as 30 s); ` +
      `${span(Math.abs(off)).slice(1)} ${off >= 0 ? 'later' : 'earlier'} than planned`,
    '',
  ].join('\n'));
  return refused > 0 || accepted !== jobs || counts.COMPLETED !== jobs ? 1 : 0;
}

/**
 * The demo's clock, shared by the server and the client: `speed` times real
 * time, with timers scaled to match, except that it stands still while a
 * request is in flight. The network is then instant in virtual time, as the
 * planner assumes (and as the tests' drive() does): otherwise each real
 * millisecond of localhost HTTP would pass for `speed` ms of queueing, and the
 * wall time would measure the machine, not the schedule.
 */
function demoClock(startMs, speed) {
  const realStart = performance.now();
  let held = 0; // real ms the clock stood still
  let heldSince;
  let inFlight = 0;
  return {
    now: () => Math.floor(startMs + ((heldSince ?? performance.now()) - realStart - held) * speed),
    // A timer may fire early when the clock stood still meanwhile: the limiter and the waits re-check the time.
    setTimeout: (callback, ms) => setTimeout(callback, ms / speed),
    clearTimeout: (handle) => clearTimeout(handle),
    /** fetch that holds the clock until the whole response has arrived. */
    holdingFetch: (inner) => async (input, init) => {
      if (inFlight++ === 0) heldSince = performance.now();
      try {
        const res = await inner(input, init);
        return new Response(await res.arrayBuffer(), { status: res.status, statusText: res.statusText, headers: res.headers });
      } finally {
        if (--inFlight === 0) {
          held += performance.now() - heldSince;
          heldSince = undefined;
        }
      }
    },
  };
}

/**
 * A single line on a terminal, redrawn at most every REDRAW_MS (the last state
 * always) and never wider than the terminal; a plain line every tenth of the
 * batch otherwise (logs, CI).
 */
function progressBar(stream, clock, start, { now = () => performance.now() } = {}) {
  const tty = stream.isTTY === true;
  let printedTenth = -1;
  let drawn = false;
  let drawnAt = -Infinity;
  let pending;
  const clockTime = (ms) => new Date(ms).toISOString().slice(11, 19);
  const draw = (p) => {
    const text = `${String(p.finished).padStart(String(p.total).length)}/${p.total} done, ` +
      `${p.started} started, ${p.failed} failed, at ${span(clock.now() - start)}; ETA ${span(p.etaAt - start)} (${clockTime(p.etaAt)} UTC)`;
    if (!tty) return text;
    const columns = Math.max(20, stream.columns ?? 80) - 1; // the last column would wrap on some terminals
    const width = Math.min(24, columns - text.length - 3);
    if (width < 5) return text.slice(0, columns);
    const full = p.total === 0 ? width : Math.round((p.finished / p.total) * width);
    return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${text}`;
  };
  const redraw = (p) => {
    stream.write(`\r${draw(p)}\x1b[K`);
    drawn = true;
    drawnAt = now();
    pending = undefined;
  };
  return {
    update(p) {
      if (tty) {
        // The final state, and no more than a few redraws a second: a terminal is slow to repaint.
        if (p.finished === p.total || now() - drawnAt >= REDRAW_MS) redraw(p);
        else pending = p;
        return;
      }
      const tenth = Math.floor((p.finished * 10) / Math.max(1, p.total));
      if (tenth > printedTenth) {
        printedTenth = tenth;
        stream.write(`${draw(p)}\n`);
      }
    },
    end() {
      if (pending) redraw(pending);
      if (drawn) stream.write('\n');
    },
  };
}
