// A static file server for the repo on 127.0.0.1 (the browser tests and the
// dashboard load the package's browser build from it). `routes` answer extra
// paths first, e.g. a same-origin API for the page to call.
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml',
};

export async function startStaticServer({ root, port = 0, host = '127.0.0.1', routes = {}, headers = {} } = {}) {
  const base = resolve(root);
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const route = routes[path];
    if (route) return route(req, res);
    const file = normalize(join(base, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(base)) return res.writeHead(403).end();
    let size;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      return res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': size, 'cache-control': 'no-store', ...headers });
    createReadStream(file).pipe(res);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  return {
    url: `http://${host}:${server.address().port}`,
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(ok); }),
  };
}
