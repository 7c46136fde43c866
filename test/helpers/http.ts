import { connect } from 'node:net';
import { request } from 'node:http';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over a new connection, as curl would send it: full control of Host and the body. */
export function send(port: number, host: string, path: string, o: { method?: string; headers?: Record<string, string>; body?: Buffer | string | AsyncIterable<Buffer>; localAddress?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: { host, ...o.headers }, agent: false, localAddress: o.localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const body = o.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else void (async () => {
      try {
        for await (const chunk of body) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        req.end();
      } catch (err) {
        req.destroy(err as Error);
      }
    })();
  });
}

/** The JSON an echo backend answered with. */
export function echoed(reply: Reply): { server: string; url: string; headers: Record<string, string>; bodyBytes: number; method: string } {
  if (reply.status !== 200) throw new Error(`expected 200 from the echo backend, got ${reply.status}: ${reply.body}`);
  return JSON.parse(reply.body);
}

/**
 * Writes raw bytes on a new connection and collects everything that comes back until the
 * server closes the connection (or `waitMs` passes): for requests no client library would send.
 */
export function exchange(port: number, bytes: string | Buffer, waitMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data);
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', done);
    socket.on('close', done);
    socket.write(bytes);
  });
}

/** The status code of the first response in raw response bytes, or 0. */
export function statusOf(raw: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  return m ? Number(m[1]) : 0;
}
