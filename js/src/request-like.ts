/**
 * Whether a fetch input is a `Request`, by its shape rather than
 * `instanceof`: a Request made by another realm or package (undici's npm
 * `Request`, a polyfill, an iframe's) is not an instance of this realm's
 * class, yet it carries the method, headers and body the call must be
 * routed and counted by. A string or a `URL` has no `method` or `clone`.
 */
export function isRequestLike(input: unknown): input is Request {
  if (typeof input !== 'object' || input === null) return false;
  if (input instanceof Request) return true;
  const r = input as Partial<Record<'url' | 'method' | 'headers' | 'clone', unknown>>;
  return typeof r.url === 'string' && typeof r.method === 'string' && typeof r.clone === 'function' &&
    typeof r.headers === 'object' && r.headers !== null;
}
