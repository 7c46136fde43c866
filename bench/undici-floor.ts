// The floor for a Node proxy on this machine: an http server handing every request to an
// undici Pool with nothing else (no routing, no header policy, no limits). The benchmark
// runs it beside Portico so the report separates Portico's own cost from the platform's.
//
//   node bench/undici-floor.ts UPSTREAM PORT [--forwarded]
//
// With --forwarded it also sends what the bench's nginx sets towards the backend (Host,
// X-Request-ID, X-Real-IP, X-Forwarded-For/-Host/-Port/-Proto): the same job's floor, since
// each header costs undici a validation and the request a line.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { Pool } from 'undici';

const [upstream = 'http://127.0.0.1:18700', port = '18705', option] = process.argv.slice(2);
const forwarded = option === '--forwarded';
const pool = new Pool(upstream, { pipelining: 1 });
const idPrefix = randomBytes(8).toString('hex');
let ids = 0;

function headersOf(req: IncomingMessage): Record<string, string> | string[] {
  if (!forwarded) return req.headers as Record<string, string>;
  const host = req.headers.host ?? '';
  const client = req.socket.remoteAddress ?? '';
  return [
    'host', host, 'x-request-id', idPrefix + (ids++).toString(16).padStart(16, '0'), 'x-real-ip', client,
    'x-forwarded-for', client, 'x-forwarded-host', host, 'x-forwarded-port', String(req.socket.localPort), 'x-forwarded-proto', 'http',
  ];
}

createServer((req, res) => {
  pool.dispatch({ method: req.method!, path: req.url!, headers: headersOf(req), body: req.method === 'GET' ? null : req }, {
    onRequestStart() {},
    onResponseStart(_c, status, headers) {
      res.writeHead(status, headers as Record<string, string>);
    },
    onResponseData(c, chunk) {
      if (!res.write(chunk)) {
        c.pause();
        res.once('drain', () => c.resume());
      }
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_c, err) {
      res.destroy(err);
    },
  });
}).listen(Number(port), '127.0.0.1');
