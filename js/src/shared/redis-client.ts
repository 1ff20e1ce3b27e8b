/**
 * One shape over the two Redis clients people already have: ioredis (a
 * `Redis` or a `Cluster`) and node-redis (`redis` v4/v5), told apart by their
 * methods. tollgate depends on neither; it only calls what the user passes.
 */
import { StoreError } from '../cost/errors.js';
import { type ScriptName, scripts } from './lua-scripts.js';

export type Reply = Array<string | number>;

/** What the store needs from a connection. */
export interface ScriptRunner {
  readonly location: string;
  /** Runs script `name` on `key` by SHA (EVAL when the server lost it: NOSCRIPT). */
  run(name: ScriptName, key: string, args: readonly string[]): Promise<Reply>;
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
  duplicate(): NodeRedisLike;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  quit?(): Promise<unknown>;
  disconnect?(): Promise<unknown>;
  options?: { url?: string; socket?: { host?: string; port?: number } };
}

const isNoScript = (e: unknown) => e instanceof Error && /^NOSCRIPT/.test(e.message);

function asReply(value: unknown): Reply {
  if (!Array.isArray(value)) throw new StoreError(`Redis answered a script with ${typeof value}, not an array`, 'redis');
  return value.map((v) => (typeof v === 'object' && v !== null && 'toString' in v ? String(v) : v)) as Reply;
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
      sha = load(scripts[name]);
      shas.set(name, sha);
      sha.catch(() => shas.delete(name)); // a failed load is tried again next time
    }
    return sha;
  };
}

function ioRedis(client: IoRedisLike): ScriptRunner {
  const location = client.isCluster ? 'redis cluster' : `redis://${client.options?.host ?? 'localhost'}:${client.options?.port ?? 6379}`;
  const sha = shaCache(async (src) => String(await client.script('LOAD', src)));
  let sub: Promise<IoRedisLike> | undefined;
  let subscriber: IoRedisLike | undefined;
  const handlers = new Map<string, (message: string) => void>();
  // The user's client closed (quit, disconnect): so does the subscriber
  // connection duplicated from it, or it would keep the process alive.
  client.on('end', () => {
    const s = subscriber;
    sub = undefined;
    subscriber = undefined;
    s?.disconnect();
  });
  return {
    location,
    async run(name, key, args) {
      try {
        return asReply(await client.evalsha(await sha(name), 1, key, ...args));
      } catch (error) {
        // A restarted (or another cluster) node lacks the script: EVAL runs and caches it.
        if (!isNoScript(error)) throw error;
        return asReply(await client.eval(scripts[name], 1, key, ...args));
      }
    },
    async subscribe(channel, onMessage) {
      handlers.set(channel, onMessage);
      sub ??= connected(client.duplicate());
      let s: IoRedisLike;
      try {
        s = await sub;
      } catch (error) {
        sub = undefined; // the next subscription tries a new connection
        throw error;
      }
      await s.subscribe(channel);
    },
    async unsubscribe(channel) {
      handlers.delete(channel);
      await subscriber?.unsubscribe(channel);
    },
    async close() {
      // Not awaiting `sub`: a connection that never got ready (Redis away) is closed too.
      const s = subscriber;
      sub = undefined;
      subscriber = undefined;
      s?.disconnect();
    },
  };

  // The duplicate may only SUBSCRIBE once its handshake is done: ioredis sends
  // its ready check (INFO) after connecting, and a SUBSCRIBE sent before it
  // makes the server refuse that INFO ("Connection in subscriber mode"), which
  // fails the connection. So every subscription waits for 'ready' first.
  function connected(s: IoRedisLike): Promise<IoRedisLike> {
    subscriber = s;
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
  let sub: Promise<NodeRedisLike> | undefined;
  let subscriber: NodeRedisLike | undefined;
  const closeSubscriber = () => {
    // Not awaiting `sub`: a connection still trying to connect (Redis away) is closed too.
    const s = subscriber;
    sub = undefined;
    subscriber = undefined;
    return (s?.disconnect?.() ?? s?.quit?.())?.catch?.(() => {});
  };
  // The user's client closed (quit, disconnect): so does the subscriber
  // connection duplicated from it, or it would keep the process alive.
  client.on('end', () => void closeSubscriber());
  return {
    location,
    async run(name, key, args) {
      const options = { keys: [key], arguments: [...args] };
      try {
        return asReply(await client.evalSha(await sha(name), options));
      } catch (error) {
        if (!isNoScript(error)) throw error;
        return asReply(await client.eval(scripts[name], options));
      }
    },
    async subscribe(channel, onMessage) {
      sub ??= (async () => {
        const s = client.duplicate();
        subscriber = s;
        // node-redis throws an unobserved 'error' event: it would crash the process.
        s.on('error', () => {});
        await s.connect();
        return s;
      })();
      let s: NodeRedisLike;
      try {
        s = await sub;
      } catch (error) {
        sub = undefined; // the next subscription tries a new connection
        throw error;
      }
      await s.subscribe(channel, (message) => onMessage(message));
    },
    async unsubscribe(channel) {
      if (sub) await (await sub).unsubscribe(channel);
    },
    async close() {
      await closeSubscriber();
    },
  };
}

