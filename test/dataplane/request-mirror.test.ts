// HTTPRoute RequestMirror copies: sent for their share only, and never more than 256 at once per
// thread, however slowly the mirror answers.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestMirrors } from '../../src/dataplane/request-mirror.ts';
import type { Backend, RequestMirror } from '../../src/table/types.ts';
import { waitFor } from '../helpers/portico.ts';

const ADDRESS = '127.0.33.1';

async function mirrorServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, ADDRESS, resolve));
  const port = (server.address() as AddressInfo).port;
  const backend: Backend = { id: 'default/sink:80', namespace: 'default', service: 'sink', port: '80', endpoints: [{ address: ADDRESS, port, key: `${ADDRESS}:${port}`, target: undefined }], unready: [], affinityTimeoutMs: undefined };
  return { server, backend };
}

describe('RequestMirrors', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const done of cleanup.splice(0)) await done();
  });

  it('holds at most 256 copies in flight, and sends again once they are answered', async () => {
    const held: ServerResponse[] = [];
    const { server, backend } = await mirrorServer((_req, res) => held.push(res));
    const mirrors = new RequestMirrors();
    cleanup.push(async () => {
      await mirrors.close();
      server.closeAllConnections();
      server.close();
    });
    const all: RequestMirror[] = [{ backend, percent: 100 }];
    for (let i = 0; i < 300; i++) mirrors.send(all, 'GET', `/${i}`, ['host', 'a.test'], null);
    await waitFor(() => held.length === 256, '256 mirrored requests');
    await new Promise((r) => setTimeout(r, 200));
    expect(held.length).toBe(256); // the other 44 were dropped, not queued
    for (const res of held.splice(0)) res.end('ok');
    await new Promise((r) => setTimeout(r, 100));
    mirrors.send(all, 'POST', '/after', ['host', 'a.test', 'content-length', '4'], Buffer.from('body'));
    await waitFor(() => held.length === 1, 'a copy once the others were answered');
  });

  it('sends a copy for its share of requests only, to a ready endpoint, and none without one', async () => {
    const seen: string[] = [];
    const { server, backend } = await mirrorServer((req, res) => {
      seen.push(req.url!);
      res.end();
    });
    let next = 0;
    // Against a 30 % share: yes (then the endpoint's draw), no, yes (and the endpoint's), no.
    const draws = [0.1, 0, 0.5, 0.29, 0, 0.31];
    const mirrors = new RequestMirrors(() => draws[next++ % draws.length]!);
    cleanup.push(async () => {
      await mirrors.close();
      server.close();
    });
    const share: RequestMirror[] = [{ backend, percent: 30 }];
    for (let i = 0; i < 4; i++) mirrors.send(share, 'GET', `/${i}`, ['host', 'a.test'], null);
    mirrors.send([{ backend: { ...backend, endpoints: [] }, percent: 100 }], 'GET', '/nowhere', ['host', 'a.test'], null);
    await waitFor(() => seen.length >= 2, 'the mirrored share');
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.sort()).toEqual(['/0', '/2']);
  });
});
