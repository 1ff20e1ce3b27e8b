/**
 * Routes: which requests a wrapper limits, and under which scope. A pattern is
 * matched against the URL's path (or the whole URL when it starts with a
 * scheme); `:name` matches one path segment, `*` anything, the query is ignored.
 */

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
 * A stable, non-reversible label for a scope key (an API token, an IP): keys
 * are hashed before they are stored, so a token never sits in a snapshot, an
 * event or the dashboard. 53 bits of cyrb53: not for security, for labels.
 */
export function hashKey(key: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}
