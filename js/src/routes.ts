/**
 * Routes: which requests a wrapper limits, and under which scope. A pattern is
 * matched against the URL's path (or the whole URL when it starts with a
 * scheme); `:name` matches one path segment, `*` anything, the query is ignored.
 */

import { hmacSha256 } from './hmac.js';

export type UrlPattern = string | RegExp | ((url: URL) => boolean);

export interface CompiledMatcher {
  methods: ReadonlySet<string> | undefined;
  test(url: URL): boolean;
}

export function compileMatcher(methods: string | readonly string[] | undefined, url: UrlPattern, at: string): CompiledMatcher {
  const set = methods === undefined ? undefined : new Set((typeof methods === 'string' ? [methods] : methods).map(upper(at)));
  if (typeof url === 'function') return { methods: set, test: url };
  if (url instanceof RegExp) return { methods: set, test: (u) => url.test(u.pathname) };
  if (typeof url !== 'string' || url === '') {
    throw new TypeError(`\`${at}.url\` must be a path pattern such as '/api/v1/run/:projectId', a RegExp or a function`);
  }
  const whole = /^[a-z][a-z0-9+.-]*:\/\//i.test(url);
  const source = url
    .split(/(\*|:[A-Za-z_][A-Za-z0-9_]*)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${source}$`);
  return { methods: set, test: whole ? (u) => re.test(u.origin + u.pathname) : (u) => re.test(u.pathname) };
}

function upper(at: string) {
  return (m: unknown): string => {
    if (typeof m !== 'string' || !/^[A-Za-z]+$/.test(m)) throw new TypeError(`\`${at}.method\` must be an HTTP method name or a list of them`);
    return m.toUpperCase();
  };
}

/**
 * How a wrapper turns scope keys (API tokens, IPs) into the labels it stores
 * and shows: HMAC-SHA-256 under a secret, the first 128 bits in hex. Without
 * the secret a label cannot be tested against guesses, so even a short key
 * cannot be recovered from a snapshot, an event, Redis or the dashboard.
 * The secret is random per wrapper unless `keySecret` is given (processes
 * that must agree on a scope's label share one). A given secret is checked
 * now; a random one is drawn on the first key, not here: Cloudflare Workers
 * allow no random values at module scope, where a wrapper is usually made.
 */
export function keyHasher(secret: unknown): (key: string) => string {
  let hmac = secret === undefined ? undefined : hmacSha256(secretBytes(secret));
  const encoder = new TextEncoder();
  return (key) => {
    hmac ??= hmacSha256(crypto.getRandomValues(new Uint8Array(32)));
    const mac = hmac(encoder.encode(key));
    let hex = '';
    for (let i = 0; i < 16; i++) hex += mac[i]!.toString(16).padStart(2, '0');
    return hex;
  };
}

/** Throws the `keySecret` TypeError for a secret `keyHasher` would refuse (for options that pass one on). */
export function checkKeySecret(secret: unknown): void {
  if (secret !== undefined) secretBytes(secret);
}

function secretBytes(secret: unknown): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret instanceof Uint8Array ? secret : undefined;
  if (bytes === undefined || bytes.length < 16) {
    throw new TypeError('`keySecret` must be a string or a Uint8Array of at least 16 bytes, e.g. 32 random bytes shared by every process of the quota');
  }
  return bytes;
}
