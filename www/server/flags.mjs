// `node www/serve.mjs` flags: every mistake is one line naming the flag and
// what is allowed (never a stack trace, never the whole usage).
import { parseArgs } from 'node:util';

const MAX_WORKERS = 16;

export const USAGE = 'usage: node www/serve.mjs [--port 8080] [--speed 60] [--redis redis://127.0.0.1:6379 [--workers 3]]   (npm start -- --port 8081)';
const HELP = `${USAGE}
  --port     the port on 127.0.0.1, 0 to 65535 (0: any free one)
  --speed    how many times faster than real time the quota clock runs, 1 to 100000 (60: an hour in a minute)
  --redis    run the pipeline as worker processes sharing every quota through this Redis (redis:// or rediss:// URL)
  --workers  how many worker processes with --redis, 1 to ${MAX_WORKERS} (default 3)`;

/**
 * `{ port, speed }` (plus `redis` and `workers` with --redis), `{ help }` or
 * `{ error }` (a one-line message with the usage).
 */
export function parseFlags(args) {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { port: { type: 'string', default: '8080' }, speed: { type: 'string', default: '60' }, redis: { type: 'string' },
        workers: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return { error: `${ours(error)} (see 'node www/serve.mjs --help')` };
  }
  if (values.help) return { help: HELP };
  const port = Number(values.port);
  const speed = Number(values.speed);
  if (values.port.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    return { error: `--port must be a whole number from 0 to 65535; got '${values.port}'` };
  }
  if (values.speed.trim() === '' || !(speed >= 1 && speed <= 100_000)) {
    return { error: `--speed must be a number from 1 to 100000; got '${values.speed}'` };
  }
  if (values.redis === undefined) {
    if (values.workers !== undefined) return { error: '--workers needs --redis <url>: the workers share their quotas through it, e.g. --redis redis://127.0.0.1:6379 --workers 3' };
    return { port, speed };
  }
  const redis = redisUrl(values.redis);
  if (redis === undefined) {
    return { error: `--redis must be a redis:// or rediss:// URL with a host, e.g. redis://127.0.0.1:6379; got '${values.redis}'` };
  }
  const workers = Number(values.workers ?? '3');
  if ((values.workers ?? '3').trim() === '' || !Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    return { error: `--workers must be a whole number from 1 to ${MAX_WORKERS}; got '${values.workers}'` };
  }
  return { port, speed, redis, workers };
}

/** `redis://user:secret@host:6379/0` -> `redis://host:6379/0`: the page and the console never show a password. */
export function redisLabel(url) {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** The URL if Redis clients can use it (ioredis and node-redis read redis:// and rediss://), else undefined. */
function redisUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') return undefined;
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) return undefined; // the only path Redis URLs have: a database number
  return url.href;
}

/** parseArgs' messages, in our words. */
function ours(error) {
  const option = /'(-[^' ]*)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': return `unknown option '${option ?? ''}'; it takes --port, --speed, --redis, --workers, --help`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': return `${option ?? 'a flag'} needs a value, e.g. ${option === '--redis' ? '--redis redis://127.0.0.1:6379' : option === '--workers' ? '--workers 3' : '--port 8081'}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': return `unexpected argument '${/'([^']*)'/.exec(error.message)?.[1] ?? ''}': flags only`;
    default: return error.message.split('\n')[0];
  }
}
