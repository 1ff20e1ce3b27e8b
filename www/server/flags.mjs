// `node www/serve.mjs` flags: every mistake is one line naming the flag and
// what is allowed (never a stack trace, never the whole usage).
import { parseArgs } from 'node:util';

export const USAGE = 'usage: node www/serve.mjs [--port 8080] [--speed 60]   (npm start -- --port 8081)';
const HELP = `${USAGE}
  --port   the port on 127.0.0.1, 0 to 65535 (0: any free one)
  --speed  how many times faster than real time the quota clock runs, 1 to 100000 (60: an hour in a minute)`;

/** `{ port, speed }`, `{ help }` or `{ error }` (a one-line message with the usage). */
export function parseFlags(args) {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { port: { type: 'string', default: '8080' }, speed: { type: 'string', default: '60' }, help: { type: 'boolean', short: 'h' } },
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
  return { port, speed };
}

/** parseArgs' messages, in our words. */
function ours(error) {
  const option = /'(-[^' ]*)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': return `unknown option '${option ?? ''}'; it takes --port, --speed, --help`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': return `${option ?? 'a flag'} needs a value, e.g. --port 8081`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': return `unexpected argument '${/'([^']*)'/.exec(error.message)?.[1] ?? ''}': flags only`;
    default: return error.message.split('\n')[0];
  }
}
