#!/usr/bin/env node
// `tollgate`: plan a batch under a seed API's quota, or watch one go through the
// Hex client against a local Hex-like server under a fast-forwarded clock.
//
//   tollgate plan --preset hex --jobs 100 [--now 2026-11-23T13:42:00Z]
//   tollgate demo --preset hex --jobs 100 [--speed 600] [--concurrency 10]
//   tollgate inspect <url> [--method GET] [--header 'name: value' ...]
import { parseArgs } from 'node:util';
import * as tollgate from './node.mjs';

const { Limiter, presets, parseDuration, hexClient, parseRateLimitHeaders } = tollgate;

const USAGE = `Usage: tollgate <command> [options]

Commands:
  plan   when each of the next --jobs requests may go under a preset's quota, and the ETA
  demo   --jobs Hex runs through the Hex client against a local Hex-like server, fast-forwarded
  inspect <url>  send one request; print the rate-limit headers the server sent, decoded

Options:
  --preset <name>     hex | hexagraph | securecodinghub (demo: hex only)  [default: hex]
  --jobs <n>          requests (plan) or runs (demo), 1 to 1000000        [default: 100]
  --now <time>        plan: start from this ISO 8601 time                 [default: now]
  --speed <x>         demo: how many times faster than real time          [default: 600]
  --concurrency <n>   demo: runs in progress at once                      [default: 10]
  --method <m>        inspect: the request method                         [default: GET]
  --header <h>        inspect: a request header 'name: value' (repeatable)
  -h, --help          show this help

Examples:
  tollgate plan --preset hex --jobs 100
  tollgate plan --preset hexagraph --jobs 1500 --now 2026-11-23T13:42:00Z
  tollgate demo --preset hex --jobs 100
  tollgate inspect https://api.example.com/v1/status --header 'authorization: Bearer $TOKEN'

Exit status: 0 done; 1 the demo drew a 429 or a run did not complete; 2 bad usage.`;

const PRESETS = {
  hex: { what: 'Hex run triggers', options: () => presets.hex() },
  hexagraph: { what: 'Hexagraph requests', options: () => presets.hexagraph() },
  securecodinghub: { what: 'SecureCodingHub requests', options: () => presets.secureCodingHub() },
};

const OPTIONS = {
  preset: { type: 'string', default: 'hex' },
  jobs: { type: 'string', default: '100' },
  help: { type: 'boolean', short: 'h' },
};
const COMMANDS = {
  plan: { options: { ...OPTIONS, now: { type: 'string' } }, run: plan },
  demo: { options: { ...OPTIONS, speed: { type: 'string', default: '600' }, concurrency: { type: 'string', default: '10' } }, run: demo },
  inspect: {
    options: { method: { type: 'string', default: 'GET' }, header: { type: 'string', multiple: true, default: [] }, help: { type: 'boolean', short: 'h' } },
    positionals: true,
    run: inspect,
  },
};

class UsageError extends Error {}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`tollgate: ${error.message}\n\n${USAGE}\n`);
  process.exitCode = 2;
}

async function main(argv) {
  const [command, ...rest] = argv;
  if (command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === undefined) throw new UsageError('no command given');
  if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command '${command}'`);
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: COMMANDS[command].options, strict: true, allowPositionals: COMMANDS[command].positionals === true }));
  } catch (error) {
    // parseArgs explains at length how to pass '-' values; the option is what matters here.
    const name = /'([^']+)'/.exec(error.message)?.[1];
    if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option '${name}' for '${command}'`);
    if (error.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument '${name}' for '${command}'`);
    throw new UsageError(error.message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  return COMMANDS[command].run(values, positionals);
}

/** One request; the rate-limit headers it brought back, raw and decoded. */
async function inspect(values, positionals) {
  if (positionals.length !== 1) throw new UsageError(`inspect takes one URL; got ${positionals.length}`);
  let url;
  try {
    url = new URL(positionals[0]);
  } catch {
    throw new UsageError(`not a URL: '${positionals[0]}'`);
  }
  if (!/^[A-Za-z]+$/.test(values.method)) throw new UsageError(`--method must be an HTTP method; got '${values.method}'`);
  const headers = new Headers();
  for (const h of values.header) {
    const at = h.indexOf(':');
    if (at < 1) throw new UsageError(`--header must look like 'name: value'; got '${h}'`);
    headers.append(h.slice(0, at).trim(), h.slice(at + 1).trim());
  }
  let res;
  try {
    res = await fetch(url, { method: values.method.toUpperCase(), headers });
  } catch (error) {
    process.stderr.write(`tollgate: ${values.method.toUpperCase()} ${url.href} failed: ${error.cause?.message ?? error.message}\n`);
    return 1;
  }
  const now = Date.now();
  await res.body?.cancel();
  const out = [`${res.status} ${res.statusText}  ${values.method.toUpperCase()} ${url.href}`, ''];
  const raw = [...res.headers].filter(([name]) => /^(date|retry-after|x-rate-?limit-|ratelimit)/i.test(name));
  out.push(raw.length ? 'rate-limit headers:' : 'no rate-limit headers');
  for (const [name, value] of raw) out.push(`  ${name}: ${value}`);
  const f = parseRateLimitHeaders(res.headers, now);
  const bare = (ms) => span(ms).slice(1);
  const at = (ms) => `${new Date(ms).toISOString()} (in ${bare(Math.max(0, ms - now))})`;
  out.push('', 'decoded:');
  if (f.serverOffsetMs !== undefined) out.push(`  server clock: ${f.serverOffsetMs >= 0 ? '+' : '-'}${bare(Math.abs(f.serverOffsetMs))} from this machine's (Date is whole seconds)`);
  if (f.retryAtMs !== undefined) out.push(`  retry after: ${at(f.retryAtMs)}`);
  for (const w of f.windows) {
    const parts = [w.name ? `policy '${w.name}'` : 'window'];
    if (w.limit !== undefined) parts.push(`limit ${w.limit}`);
    if (w.windowMs !== undefined) parts.push(`per ${bare(w.windowMs)}`);
    if (w.remaining !== undefined) parts.push(`remaining ${w.remaining}`);
    if (w.resetAtMs !== undefined) parts.push(`resets ${at(w.resetAtMs)}`);
    out.push(`  ${parts.join(', ')}`);
  }
  if (f.retryAtMs === undefined && f.windows.length === 0) out.push('  nothing about limits');
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
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
  return { name, what: PRESETS[name].what, windows };
}

/** '20/min AND 60/h'; '(calendar)' marks a fixed window. */
function describe(windows) {
  const unit = { 1_000: 's', 60_000: 'min', 3_600_000: 'h', 86_400_000: 'day' };
  return windows.map((w) => {
    const ms = parseDuration(w.per, 'per');
    return `${w.limit}/${unit[ms] ?? `${ms} ms`}${w.kind === 'fixed' ? ' (calendar)' : ''}`;
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

function plan(values) {
  const { what, windows } = preset(values.preset);
  const jobs = integer(values.jobs, 'jobs', 1, 1_000_000);
  const now = values.now === undefined ? Date.now() : Date.parse(values.now);
  if (!Number.isFinite(now)) throw new UsageError(`--now must be an ISO 8601 time such as 2026-11-23T13:42:00Z; got '${values.now}'`);
  const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} }; // planning never waits
  const times = new Limiter({ windows, clock }).plan(jobs);

  const out = [`tollgate plan: ${jobs} ${what} under ${describe(windows)}, from ${new Date(now).toISOString()}`, ''];
  out.push('  trigger  goes at                     after start');
  // The first and last, and each side of every window's limit: where the schedule bends.
  const marks = new Set([1, jobs]);
  for (const w of windows) for (const k of [w.limit, w.limit + 1]) if (k <= jobs) marks.add(k);
  for (const k of [...marks].sort((a, b) => a - b)) {
    out.push(`  ${String(k).padStart(7)}  ${new Date(times[k - 1]).toISOString()}    ${span(times[k - 1] - now)}`);
  }
  const groups = [];
  for (const at of times) {
    if (groups.length > 0 && groups.at(-1).at === at) groups.at(-1).n += 1;
    else groups.push({ at, n: 1 });
  }
  const shown = groups.slice(0, 8).map((g) => `${g.n} at ${span(g.at - now)}`);
  out.push('', `schedule: ${shown.join(', ')}${groups.length > 8 ? `, ... (${groups.length} steps)` : ''}`);
  const last = times.at(-1);
  out.push(`ETA: the last (${ordinal(jobs)}) goes at ${new Date(last).toISOString()}, ${span(last - now)} from the start`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] ?? 'th');
  return `${n}${suffix}`;
}

async function demo(values) {
  if (values.preset !== 'hex') {
    preset(values.preset); // an unknown name gets the list of presets
    throw new UsageError(`demo runs the Hex client: --preset must be hex; got '${values.preset}'`);
  }
  const { windows } = preset('hex');
  const jobs = integer(values.jobs, 'jobs', 1, 100_000);
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

/** A single redrawn line on a terminal; a plain line every tenth of the batch otherwise (logs, CI). */
function progressBar(stream, clock, start) {
  const tty = stream.isTTY === true;
  let printedTenth = -1;
  let drawn = false;
  const clockTime = (ms) => new Date(ms).toISOString().slice(11, 19);
  return {
    update(p) {
      const width = 24;
      const full = p.total === 0 ? width : Math.round((p.finished / p.total) * width);
      const line = `${tty ? `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ` : ''}${String(p.finished).padStart(String(p.total).length)}/${p.total} done, ` +
        `${p.started} started, ${p.failed} failed, at ${span(clock.now() - start)}; ETA ${span(p.etaAt - start)} (${clockTime(p.etaAt)} UTC)`;
      if (tty) {
        stream.write(`\r${line}\x1b[K`);
        drawn = true;
        return;
      }
      const tenth = Math.floor((p.finished * 10) / Math.max(1, p.total));
      if (tenth > printedTenth) {
        printedTenth = tenth;
        stream.write(`${line}\n`);
      }
    },
    end() {
      if (drawn) stream.write('\n');
    },
  };
}
