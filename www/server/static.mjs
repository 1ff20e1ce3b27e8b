// The dashboard's static files: the page (www/), the package's browser build (js/dist,
// pkg/web), nothing else of the repo, and never the Node scripts beside the page.
import { createReadStream, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** URL prefix -> directory. Nothing else of the repo is served. */
const MOUNTS = [['/js/dist/', join(repo, 'js/dist')], ['/pkg/web/', join(repo, 'pkg/web')], ['/', join(repo, 'www')]];
const NODE_ONLY = [join(repo, 'www', 'serve.mjs'), join(repo, 'www', 'screenshot.mjs'), join(repo, 'www', 'server') + sep];
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.ts': 'text/plain; charset=utf-8',
};
/** The page's policy, also sent as a header (a meta tag cannot set frame-ancestors). */
const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; style-src 'self'; img-src 'self'; "
  + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function serveStatic(req, res, path) {
  const [prefix, dir] = MOUNTS.find(([p]) => path.startsWith(p));
  let rel;
  try {
    rel = decodeURIComponent(path.slice(prefix.length)) || 'index.html';
  } catch {
    return res.writeHead(400).end();
  }
  const file = resolve(dir, rel.endsWith('/') ? `${rel}index.html` : rel);
  if (file !== dir && !file.startsWith(dir + sep)) return res.writeHead(403).end();
  // The Node scripts beside the page are not part of it.
  if (NODE_ONLY.some((p) => file === p || file.startsWith(p))) return res.writeHead(404).end();
  let size;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    return res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
  }
  const type = TYPES[extname(file)] ?? 'application/octet-stream';
  res.writeHead(200, {
    'content-type': type, 'content-length': size, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer', ...(type.startsWith('text/html') ? { 'content-security-policy': CSP } : {}),
  });
  if (req.method === 'HEAD') return res.end();
  createReadStream(file).pipe(res);
}

export function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}
