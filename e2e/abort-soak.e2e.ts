// A soak, too slow for npm test: ten thousand clients that give up mid-response must leave no
// sockets, descriptors or heap behind. Portico runs as its own process; no cluster needed.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from '../test/helpers/backends.ts';
import { send } from '../test/helpers/http.ts';
import { INGRESS_CLASS, ingress, service } from '../test/helpers/manifests.ts';
import { waitFor } from '../test/helpers/portico.ts';
import { metric, PorticoCli } from '../test/helpers/process.ts';

const backends = new BackendSet();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-soak-'));
  const echo = { address: '127.0.11.1', port: await backends.echo('echo', '127.0.11.1') };
  // 256 KiB in 16 KiB chunks, one per event-loop turn: plenty of time for a client to give up halfway.
  const stream = { address: '127.0.11.3', port: await backends.http('127.0.11.3', (_req, res) => {
    let left = 16;
    const next = (): void => {
      if (res.destroyed) return;
      if (left-- === 0) return void res.end();
      res.write(Buffer.alloc(16 * 1024, 97));
      setImmediate(next);
    };
    next();
  }) };
  await writeFile(join(dir, 'all.yaml'), [INGRESS_CLASS, service('echo', [echo]), service('stream', [stream]),
    ingress({ name: 'echo', host: 'echo.test', service: 'echo' }), ingress({ name: 'stream', host: 'stream.test', service: 'stream' })].join('---\n'));
});

afterAll(async () => {
  await backends.close();
  await rm(dir, { recursive: true, force: true });
});


describe('clients that abort', () => {
  it('leaves no sockets, descriptors or heap behind after 10,000 aborted responses', async () => {
    const portico = new PorticoCli();
    await portico.start(dir, '--access-log', 'off');
    try {
      for (let i = 0; i < 50; i++) expect((await send(portico.httpPort, 'stream.test', '/')).status).toBe(200);
      await waitFor(async () => (await metric(portico.adminPort, 'portico_client_connections_active')) === 0, 'warm-up connections to close');
      const baseFds = await metric(portico.adminPort, 'process_open_fds');
      const baseHeap = await metric(portico.adminPort, 'nodejs_heap_size_used_bytes');
      let aborted = 0;
      const abortOne = (): Promise<void> => new Promise((resolve) => {
        const socket = connect(portico.httpPort, '127.0.0.1');
        socket.on('error', () => resolve());
        socket.once('data', () => {
          aborted++;
          socket.destroy(); // mid-response: the pod is still sending
          resolve();
        });
        socket.write('GET / HTTP/1.1\r\nHost: stream.test\r\n\r\n');
      });
      const workers = Array.from({ length: 50 }, async () => {
        for (let i = 0; i < 200; i++) await abortOne();
      });
      await Promise.all(workers);
      expect(aborted).toBe(10_000);
      await waitFor(async () => (await metric(portico.adminPort, 'portico_client_connections_active')) === 0, 'client connections to close');
      // Upstream connections of aborted responses are closed too, not parked in a pool.
      await waitFor(async () => (await metric(portico.adminPort, 'process_open_fds')) <= baseFds + 5, 'descriptors back to baseline');
      expect((await send(portico.httpPort, 'echo.test', '/')).status).toBe(200);
      const heap = await metric(portico.adminPort, 'nodejs_heap_size_used_bytes');
      expect(heap).toBeLessThan(baseHeap + 32 * 1024 * 1024);
    } finally {
      await portico.stop();
    }
  }, 60_000);
});
