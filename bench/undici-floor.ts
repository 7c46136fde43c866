// The floor for a Node proxy on this machine: an http server handing every request to an
// undici Pool with nothing else (no routing, no header policy, no limits). The benchmark
// runs it beside Portico so the report separates Portico's own cost from the platform's.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [upstream = 'http://127.0.0.1:18700', port = '18705'] = process.argv.slice(2);
const pool = new Pool(upstream, { pipelining: 1 });
createServer((req, res) => {
  pool.dispatch({ method: req.method!, path: req.url!, headers: req.headers as Record<string, string>, body: req.method === 'GET' ? null : req }, {
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
