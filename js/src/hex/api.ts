/**
 * One call to the Hex API through the rate-limited fetch: JSON in and out, the
 * token in the Authorization header, and a 401 turned into `HexAuthError`
 * whatever the endpoint (a rotated token fails every call the same way).
 */
import type { RateLimitedFetch } from '../fetch.js';
import { HexApiError, HexAuthError } from './errors.js';

export interface Api {
  fetch: RateLimitedFetch;
  /** e.g. 'https://app.hex.tech/api/v1' */
  apiBase: string;
  token: string;
}

export interface HexResponse {
  response: Response;
  /** The parsed JSON body; undefined when it is empty or not JSON. */
  data: any;
  /** For error messages: 'POST https://…/api/v1/run/p1'. */
  what: string;
  url: string;
  method: string;
}

export async function callHex(api: Api, method: string, path: string, init: { body?: unknown; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<HexResponse> {
  const url = `${api.apiBase}${path}`;
  const headers: Record<string, string> = { authorization: `Bearer ${api.token}`, accept: 'application/json', ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await api.fetch(url, {
    method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
  const text = await response.text();
  let data: any;
  try {
    data = text === '' ? undefined : JSON.parse(text);
  } catch {
    data = undefined; // an HTML error page from a proxy: the status says enough
  }
  const r = { response, data, what: `${method} ${url}`, url, method };
  if (response.status === 401) {
    throw new HexAuthError(`${r.what}: Hex answered 401: token rejected or rotated${reasonOf(data) ? ` (${reasonOf(data)})` : ''}; check the API token, and refresh it where it is stored (e.g. CI secrets) if it was rotated`,
      context(r));
  }
  return r;
}

/** The error for a status the caller cannot act on. */
export function unexpected(r: HexResponse, detail?: string): HexApiError {
  const reason = reasonOf(r.data);
  return new HexApiError(`${r.what}: Hex answered ${r.response.status}${detail ? ` ${detail}` : ''}${reason ? `: ${reason}` : ''}`, context(r));
}

function context(r: HexResponse) {
  return { status: r.response.status, reason: reasonOf(r.data), traceId: traceIdOf(r.data), request: new Request(r.url, { method: r.method }), response: r.response };
}

const reasonOf = (data: any): string | undefined => (typeof data?.reason === 'string' ? data.reason : undefined);
const traceIdOf = (data: any): string | undefined => (typeof data?.traceId === 'string' ? data.traceId : undefined);
