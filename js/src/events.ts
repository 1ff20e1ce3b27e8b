/**
 * Typed events, and Node's `diagnostics_channel` mirror of them. Every event
 * is a `CustomEvent` whose `detail` is the same object published on the
 * channel `tollgate:<source>:<type>` (e.g. `tollgate:fetch:throttled`), so an
 * APM tool can subscribe without touching the code that made the limiter.
 * The Node entry hands `node:diagnostics_channel` over (`useDiagnostics`);
 * browsers have no channels. An event is built only when someone listens or
 * a channel has subscribers, so an unobserved limiter pays nothing.
 */
import type { Feedback } from './core.js';

/** `Limiter.events`: each event's `detail`. Times are ms since the Unix epoch. */
export interface LimiterEventMap {
  /** A request joined the queue. */
  queued: { at: number; cost: number; priority: number; waiting: number };
  /** A queued request was admitted. */
  admitted: { at: number; cost: number; waiting: number };
  /** A queued request's signal aborted. */
  aborted: { at: number; cost: number; waiting: number };
  /** `pauseUntil`: nothing is admitted before `until`. */
  paused: { at: number; until: number };
  /** `reconcile` adopted the server's count for window `window`. */
  reconciled: { at: number; window: number; remaining: number; resetAt: number | undefined };
}

/** What every `rateLimitedFetch` event's `detail` has. */
export interface FetchEventBase {
  /** The route's name. */
  route: string;
  /** The scope's hashed key ('' for a route without `key`). */
  key: string;
  at: number;
}

/** `rateLimitedFetch(...).events`: each event's `detail`. */
export interface FetchEventMap {
  /** The request waits; `retryAt` is Infinity while only a completion can make room. */
  queued: FetchEventBase & { retryAt: number; waiting: number };
  /** Attempt `attempt` was admitted after `waitedMs`; `queued`: it had to wait (a `queued` event preceded it). */
  admitted: FetchEventBase & { attempt: number; waitedMs: number; queued: boolean };
  /** The server refused (429, or 503 with a retry time); `retryAt` when it said to come back. */
  throttled: FetchEventBase & { status: number; attempt: number; retryAt: number | undefined };
  /** Attempt `attempt + 1` will go at `retryAt`. */
  retry: FetchEventBase & { attempt: number; status: number; retryAt: number; waitMs: number };
  /** The scope admits nothing before `until` (the server's time, or a backoff). */
  paused: FetchEventBase & { until: number; status: number; reason: 'server' | 'backoff' };
  /** The server's rate-limit headers moved these windows. */
  reconciled: FetchEventBase & { windows: number[]; feedback: Feedback };
  /** The server asked for a wait beyond `retry.maxRetryAfter`: calls fail at once until `until` (see rateLimitedFetch). */
  refused: FetchEventBase & { until: number; retryAt: number; status: number };
  /** The scope's windows changed to follow what the server states (`from` the windows enforced before, `to` now). */
  adapted: FetchEventBase & {
    from: Array<{ limit: number; perMs: number; kind: string }>;
    to: Array<{ limit: number; perMs: number; kind: string }>;
    learned: Array<{ limit: number; perMs: number; kind: string }>;
  };
  /** Calendar windows moved to the server's clock. */
  aligned: FetchEventBase & { serverOffsetMs: number; uncertaintyMs: number };
  /** No more attempts; `status` 0 is a network error. */
  'gave-up': FetchEventBase & { attempt: number; status: number; reason: string };
}

type Listener<D> = ((event: CustomEvent<D>) => void) | { handleEvent(event: CustomEvent<D>): void };
type AnyListener = ((event: Event) => void) | { handleEvent(event: Event): void };
/** As the DOM's, spelt out: Node's types without the DOM lib lack `AddEventListenerOptions`. */
type AddOptions = boolean | { capture?: boolean; once?: boolean; passive?: boolean; signal?: AbortSignal };
type RemoveOptions = boolean | { capture?: boolean };

/**
 * An `EventTarget` whose event names and `detail`s are known to TypeScript. As
 * with the DOM's own targets, a name that is only known to be a `string` (e.g.
 * from a loop over names) falls back to a plain `Event` listener.
 */
export interface TypedEventTarget<M> {
  addEventListener<K extends keyof M & string>(type: K, listener: Listener<M[K]> | null, options?: AddOptions): void;
  addEventListener(type: string, listener: AnyListener | null, options?: AddOptions): void;
  removeEventListener<K extends keyof M & string>(type: K, listener: Listener<M[K]> | null, options?: RemoveOptions): void;
  removeEventListener(type: string, listener: AnyListener | null, options?: RemoveOptions): void;
  dispatchEvent(event: Event): boolean;
}

export type LimiterEvents = TypedEventTarget<LimiterEventMap>;
export type FetchEvents = TypedEventTarget<FetchEventMap>;

/** The part of `node:diagnostics_channel` used here. */
export interface DiagnosticsChannels {
  channel(name: string): { readonly hasSubscribers: boolean; publish(message: unknown): void };
}

type Channel = ReturnType<DiagnosticsChannels['channel']>;

let channels: DiagnosticsChannels | undefined;
/** Each source's channels by event type (no name is built on a call that finds its channel). */
const bySource = { limiter: new Map<string, Channel>(), fetch: new Map<string, Channel>() };

/** Called by the Node entry with `node:diagnostics_channel`. */
export function useDiagnostics(module: DiagnosticsChannels): void {
  channels = module;
}

/** The channel of `source`'s event `type`, only while it has subscribers. */
export function subscribedChannel(source: 'limiter' | 'fetch', type: string): Channel | undefined {
  const channel = channelOf(source, type);
  return channel?.hasSubscribers ? channel : undefined;
}

/**
 * The channel of `source`'s event `type`, subscribed or not (undefined without
 * diagnostics): for a caller that keeps it and asks `hasSubscribers` itself on every call.
 */
export function channelOf(source: 'limiter' | 'fetch', type: string): Channel | undefined {
  if (channels === undefined) return undefined;
  const byType = bySource[source];
  let channel = byType.get(type);
  if (channel === undefined) byType.set(type, (channel = channels.channel(`tollgate:${source}:${type}`)));
  return channel;
}
