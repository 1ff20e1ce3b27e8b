/**
 * One shape over the two Redis clients people already have: ioredis (a
 * `Redis` or a `Cluster`) and node-redis (`redis` v4/v5), told apart by their
 * methods. tollgate depends on neither; it only calls what the user passes.
 *
 * How an operation runs, decided once per store: as a function of the Redis
 * Functions library (FCALL; `FUNCTION LOAD` once per server), where policy.lua
 * ran once at load; or, where Redis has no functions (before 7) or refuses
 * them (a managed Redis that disables `FUNCTION`, an ACL without it), as a
 * script by SHA (EVALSHA), which runs policy.lua on every call.
 */
import { StoreError } from '../cost/errors.js';
import { type ScriptName, functionName, library, script } from './lua-scripts.js';

export type Reply = Array<string | number>;

/** How operations run: FCALL of the library's functions, or EVALSHA of the scripts. */
export type Execution = 'function' | 'script';

/** What the store needs from a connection. */
export interface ScriptRunner {
  readonly location: string;
  /** 'function' until Redis showed it has no functions (or refuses them), then 'script'. */
  readonly execution: Execution;
  /**
   * Runs operation `name` on `key`: FCALL (loading the library when the
   * server lacks it: a restart, a FUNCTION FLUSH, a new cluster node), or
   * EVALSHA (EVAL when the server lost the script: NOSCRIPT). Calls
   * `onReply` or `onError` (callbacks, not a promise: the reply reaches the
   * caller in the client's own promise callback, with no further hops).
   */
  run(name: ScriptName, key: string, args: readonly string[], onReply: (reply: Reply) => void, onError: (error: unknown) => void): void;
  /** Subscribes to `channel` on a second connection (created on first use). */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Closes the second connection, if any (the user's client stays theirs). */
  close(): Promise<void>;
}

interface IoRedisLike {
  evalsha(sha: string, numKeys: number, ...args: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: string[]): Promise<unknown>;
  script(sub: 'LOAD', script: string): Promise<unknown>;
  fcall?(fn: string, numKeys: number, ...args: string[]): Promise<unknown>;
  function?(sub: 'LOAD', replace: 'REPLACE', code: string): Promise<unknown>;
  /** A Cluster's nodes (a library must be on every master). */
  nodes?(role: 'master'): IoRedisLike[];
  duplicate(): IoRedisLike;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
  /** 'ready' once connected and past its ready check. */
  status?: string;
  options?: { host?: string; port?: number };
  isCluster?: boolean;
}

interface NodeRedisLike {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  scriptLoad(script: string): Promise<string>;
  fCall?(fn: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  functionLoad?(code: string, options: { REPLACE: boolean }): Promise<unknown>;
  duplicate(): NodeRedisLike;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  quit?(): Promise<unknown>;
  disconnect?(): Promise<unknown>;
  options?: { url?: string; socket?: { host?: string; port?: number } };
}

const message = (e: unknown) => (e instanceof Error ? e.message : '');
const isNoScript = (e: unknown) => /^NOSCRIPT/.test(message(e));
/** The server lacks the library (restarted empty, FUNCTION FLUSH, a node new to the cluster). */
const isNoFunction = (e: unknown) => /^ERR Function not found/i.test(message(e));
/**
 * The server has no functions or refuses them: Redis < 7 ("unknown command
 * 'FCALL'"), `FUNCTION` renamed away or disabled by a managed service ("ERR
 * unknown command", "ERR command ... not allowed"), an ACL without it
 * (NOPERM). Connection failures, a full (OOM), busy or loading server are not
 * this: they fail the call as any command's would.
 */
const isNoFunctions = (e: unknown) => /^(ERR unknown (sub)?command|ERR command .*not (allowed|available|supported)|NOPERM)/i.test(message(e));

function asReply(value: unknown): Reply {
  if (!Array.isArray(value)) throw new StoreError(`Redis answered a script with ${typeof value}, not an array`, 'redis');
  // ioredis and node-redis answer strings and numbers; a Buffer (a client set to return them) becomes a string.
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    if (typeof v === 'object' && v !== null) value[i] = String(v);
  }
  return value as Reply;
}

/** Detects the client and wraps it; a TypeError names what was expected. */
export function wrapClient(client: unknown): ScriptRunner {
  const c = client as Record<string, unknown> | null;
  if (typeof c === 'object' && c !== null && typeof c.evalSha === 'function' && typeof c.scriptLoad === 'function') {
    return nodeRedis(c as unknown as NodeRedisLike);
  }
  if (typeof c === 'object' && c !== null && typeof c.evalsha === 'function' && typeof c.duplicate === 'function') {
    return ioRedis(c as unknown as IoRedisLike);
  }
  throw new TypeError('`redisStore(client)` takes an ioredis client (`new Redis()` or `new Cluster()`) or a connected node-redis client (`createClient()`)');
}

function shaCache(load: (src: string) => Promise<string>) {
  const shas = new Map<ScriptName, Promise<string>>();
  return (name: ScriptName) => {
    let sha = shas.get(name);
    if (sha === undefined) {
      sha = load(script(name));
      shas.set(name, sha);
      sha.catch(() => shas.delete(name)); // a failed load is tried again next time
    }
    return sha;
  };
}

/**
 * Runs operations as functions while the server allows it, as scripts from the
 * first sign it does not. `fcall` and `loadLibrary` are undefined for a client
 * without those commands (an old ioredis or node-redis): scripts from the start.
 */
function executor(
  fcall: ((fn: string, key: string, args: readonly string[]) => Promise<unknown>) | undefined,
  loadLibrary: ((code: string) => Promise<unknown>) | undefined,
  evalScript: (name: ScriptName, key: string, args: readonly string[]) => Promise<Reply>,
) {
  const state = { execution: (fcall && loadLibrary ? 'function' : 'script') as Execution };
  let loading: Promise<void> | undefined;
  // Calls that find the library missing together load it once.
  const load = () => (loading ??= Promise.resolve(loadLibrary!(library())).then(() => {}).finally(() => { loading = undefined; }));
  const fallBack = (name: ScriptName, key: string, args: readonly string[]) => {
    state.execution = 'script';
    return evalScript(name, key, args);
  };
  async function viaFunction(name: ScriptName, key: string, args: readonly string[], error: unknown): Promise<unknown> {
    if (isNoFunctions(error)) return fallBack(name, key, args);
    if (!isNoFunction(error)) throw error;
    try {
      await load();
    } catch (loadError) {
      if (isNoFunctions(loadError)) return fallBack(name, key, args);
      throw loadError;
    }
    // Loaded: once more (a failure now is the call's).
    return fcall!(functionName(name), key, args);
  }
  const names = new Map<ScriptName, string>();
  const nameOf = (name: ScriptName) => {
    let fn = names.get(name);
    if (fn === undefined) names.set(name, (fn = functionName(name)));
    return fn;
  };
  return {
    state,
    run(name: ScriptName, key: string, args: readonly string[], onReply: (reply: Reply) => void, onError: (error: unknown) => void): void {
      const deliver = (value: unknown) => {
        let reply: Reply;
        try {
          reply = asReply(value);
        } catch (error) {
          return onError(error);
        }
        onReply(reply);
      };
      if (state.execution === 'script') {
        evalScript(name, key, args).then(deliver, onError);
        return;
      }
      let sent: Promise<unknown>;
      try {
        sent = fcall!(nameOf(name), key, args);
      } catch (error) {
        sent = Promise.reject(error); // a client that throws (closed) fails the call, as a rejection
      }
      sent.then(deliver, (error) => viaFunction(name, key, args, error).then(deliver, onError));
    },
  };
}

function ioRedis(client: IoRedisLike): ScriptRunner {
  const location = client.isCluster ? 'redis cluster' : `redis://${client.options?.host ?? 'localhost'}:${client.options?.port ?? 6379}`;
  const sha = shaCache(async (src) => String(await client.script('LOAD', src)));
  const exec = executor(
    typeof client.fcall === 'function' ? (fn, key, args) => client.fcall!(fn, 1, key, ...args) : undefined,
    typeof client.function === 'function'
      // A cluster: every master gets the library (whichever holds a quota's slot, now or after a resharding).
      ? (code) => Promise.all((client.isCluster && client.nodes ? client.nodes('master') : [client]).map((n) => n.function!('LOAD', 'REPLACE', code)))
      : undefined,
    async (name, key, args) => {
      try {
        return asReply(await client.evalsha(await sha(name), 1, key, ...args));
      } catch (error) {
        // A restarted (or another cluster) node lacks the script: EVAL runs and caches it.
        if (!isNoScript(error)) throw error;
        return asReply(await client.eval(script(name), 1, key, ...args));
      }
    },
  );
  const subscriber = new Subscriber<IoRedisLike>((keep) => connected(keep(client.duplicate())), (s) => s.disconnect());
  const handlers = new Map<string, (message: string) => void>();
  // The user's client closed (quit, disconnect): so does the subscriber
  // connection duplicated from it, or it would keep the process alive.
  client.on('end', () => void subscriber.close());
  return {
    location,
    get execution() { return exec.state.execution; },
    run: exec.run,
    async subscribe(channel, onMessage) {
      handlers.set(channel, onMessage);
      await (await subscriber.get()).subscribe(channel);
    },
    async unsubscribe(channel) {
      handlers.delete(channel);
      await subscriber.current?.unsubscribe(channel);
    },
    async close() {
      subscriber.close();
    },
  };

  // The duplicate may only SUBSCRIBE once its handshake is done: ioredis sends
  // its ready check (INFO) after connecting, and a SUBSCRIBE sent before it
  // makes the server refuse that INFO ("Connection in subscriber mode"), which
  // fails the connection. So every subscription waits for 'ready' first.
  function connected(s: IoRedisLike): Promise<IoRedisLike> {
    // An unobserved 'error' would be logged as unhandled; the store sees failures through its commands.
    s.on('error', () => {});
    s.on('message', (ch: string, message: string) => handlers.get(ch)?.(message));
    if (s.status === 'ready') return Promise.resolve(s);
    return new Promise((resolve, reject) => {
      s.once('ready', () => resolve(s));
      s.once('end', () => reject(new Error('the subscriber connection to Redis closed before it was ready')));
    });
  }
}

function nodeRedis(client: NodeRedisLike): ScriptRunner {
  const o = client.options;
  const location = o?.url ?? `redis://${o?.socket?.host ?? 'localhost'}:${o?.socket?.port ?? 6379}`;
  const sha = shaCache((src) => client.scriptLoad(src));
  const exec = executor(
    typeof client.fCall === 'function' ? (fn, key, args) => client.fCall!(fn, { keys: [key], arguments: args as string[] }) : undefined,
    typeof client.functionLoad === 'function' ? (code) => client.functionLoad!(code, { REPLACE: true }) : undefined,
    async (name, key, args) => {
      const options = { keys: [key], arguments: args as string[] };
      try {
        return asReply(await client.evalSha(await sha(name), options));
      } catch (error) {
        if (!isNoScript(error)) throw error;
        return asReply(await client.eval(script(name), options));
      }
    },
  );
  const subscriber = new Subscriber<NodeRedisLike>(async (keep) => {
    const s = keep(client.duplicate());
    // node-redis throws an unobserved 'error' event: it would crash the process.
    s.on('error', () => {});
    await s.connect();
    return s;
  }, (s) => (s.disconnect?.() ?? s.quit?.())?.catch?.(() => {}));
  // The user's client closed (quit, disconnect): so does the subscriber
  // connection duplicated from it, or it would keep the process alive.
  client.on('end', () => void subscriber.close());
  return {
    location,
    get execution() { return exec.state.execution; },
    run: exec.run,
    async subscribe(channel, onMessage) {
      await (await subscriber.get()).subscribe(channel, (message) => onMessage(message));
    },
    async unsubscribe(channel) {
      const opening = subscriber.opening;
      if (opening) await (await opening).unsubscribe(channel);
    },
    async close() {
      await subscriber.close();
    },
  };
}

/**
 * The store's one subscriber connection, duplicated from the user's client on
 * first use (a connection in subscriber mode can run nothing else). A failed
 * connect is closed and forgotten, so the next subscription tries a new one; the
 * connection is known from the moment it is made, so `close()` also ends one
 * still connecting (Redis away), which would otherwise keep the process alive.
 */
class Subscriber<C> {
  #opening: Promise<C> | undefined;
  #current: C | undefined;

  /** `open` makes the connection and passes it to `keep` before it waits for it to be ready. */
  constructor(private readonly open: (keep: (c: C) => C) => Promise<C>, private readonly shut: (c: C) => unknown) {}

  /** The connection once ready (opened on first use). */
  async get(): Promise<C> {
    this.#opening ??= this.open((c) => (this.#current = c));
    try {
      return await this.#opening;
    } catch (error) {
      // A connection that never got ready is closed, not left retrying (and keeping the process alive).
      try {
        this.close();
      } catch {
        // it was closed already
      }
      throw error;
    }
  }

  /** The connection, ready or not (undefined before the first use, and after `close`). */
  get current(): C | undefined {
    return this.#current;
  }

  /** The connection being opened or open, if any. */
  get opening(): Promise<C> | undefined {
    return this.#opening;
  }

  /** Closes the connection, ready or not (not awaiting it); the next use opens a new one. */
  close(): unknown {
    const c = this.#current;
    this.#opening = undefined;
    this.#current = undefined;
    return c === undefined ? undefined : this.shut(c);
  }
}

