// A tiny static server for the SPA example: serves examples/spa and clients/js (nothing else
// of the repository, so no key or database beside it is ever served), and, with --proxy,
// forwards one path prefix to jwtd so that a page can reach it on its own origin.
//
// Usage: node scripts/spa-static.mjs [--host 127.0.0.1] [--port 0] [--proxy /api=http://127.0.0.1:8000]
// Prints "listening on http://HOST:PORT" once it accepts connections.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const served = ['/examples/spa/', '/clients/js/'];
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
};
const host = option('--host', '127.0.0.1');
const port = Number(option('--port', '0'));
const proxySpec = option('--proxy', null);
const [proxyPrefix, proxyTarget] = proxySpec ? proxySpec.split(/=(.*)/s) : [null, null];

async function forward(request, response) {
  const target = new URL(request.url.slice(proxyPrefix.length) || '/', proxyTarget);
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const headers = { ...request.headers };
  delete headers.host;
  delete headers.connection;
  try {
    const answer = await fetch(target, {
      method: request.method,
      headers,
      body: chunks.length ? Buffer.concat(chunks) : undefined,
      redirect: 'manual',
    });
    const out = {};
    answer.headers.forEach((value, name) => {
      if (name !== 'content-encoding' && name !== 'transfer-encoding' && name !== 'connection') {
        out[name] = value;
      }
    });
    response.writeHead(answer.status, out);
    response.end(Buffer.from(await answer.arrayBuffer()));
  } catch (error) {
    response.writeHead(502, { 'Content-Type': 'text/plain' });
    response.end(`proxy error: ${error.message}\n`);
  }
}

async function serveFile(request, response) {
  const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
  if (path === '/') {
    response.writeHead(302, { Location: '/examples/spa/' });
    response.end();
    return;
  }
  const clean = normalize(path.endsWith('/') ? `${path}index.html` : path);
  if (!served.some((prefix) => clean.startsWith(prefix)) || clean.includes('..')) {
    response.writeHead(404, { 'Content-Type': 'text/plain' });
    response.end('not found\n');
    return;
  }
  const file = join(root, clean);
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
    const body = await readFile(file);
    response.writeHead(200, {
      'Content-Type': types[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': 'no-store',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  } catch {
    response.writeHead(404, { 'Content-Type': 'text/plain' });
    response.end('not found\n');
  }
}

const server = createServer((request, response) => {
  if (proxyPrefix && (request.url === proxyPrefix || request.url.startsWith(`${proxyPrefix}/`))) {
    forward(request, response);
  } else {
    serveFile(request, response);
  }
});
server.listen(port, host, () => {
  const address = server.address();
  console.log(`listening on http://${host}:${address.port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
