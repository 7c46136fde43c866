import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoReport {
  /** Which backend answered. */
  server: string;
  method: string;
  /** The request target exactly as the backend received it (path and query). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
}

/**
 * A small HTTP backend that answers every request with what it received, as JSON, and
 * says who it is in `X-Served-By`. The bundled examples and the tests run it.
 */
export async function startEchoBackend(name: string, host = '127.0.0.1', port = 0): Promise<{ server: Server; port: number; url: string }> {
  const server = createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    req.on('end', () => {
      const report: EchoReport = { server: name, method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes };
      const body = JSON.stringify(report, null, 2) + '\n';
      res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': name, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const actual = (server.address() as AddressInfo).port;
  return { server, port: actual, url: `http://${host}:${actual}` };
}
