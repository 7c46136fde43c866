// --workers 2: the instance behaves as one, whichever thread a connection lands on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerPool } from '../src/workers/pool.ts';
import { BackendSet } from './helpers/backends.ts';
import { echoed, send } from './helpers/http.ts';
import { ingress, service } from './helpers/manifests.ts';
import { startPortico, waitFor, type RunningPortico } from './helpers/portico.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('two worker threads', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  let pool: WorkerPool;
  let releaseSlow: () => void = () => {};
  let slowArrived = 0;
  const get = (host: string, path = '/') => send(portico.httpPort, host, path);
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${portico.adminPort}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  };

  beforeAll(async () => {
    const echo = { address: '127.0.16.1', port: await backends.echo('echo', '127.0.16.1') };
    const refused = { address: '127.0.16.2', port: await backends.closedPort('127.0.16.2') };
    const alive = { address: '127.0.16.3', port: await backends.echo('alive', '127.0.16.3') };
    const gate = new Promise<void>((r) => (releaseSlow = r));
    const slow = { address: '127.0.16.4', port: await backends.http('127.0.16.4', (_req, res) => {
      slowArrived++;
      void gate.then(() => res.end('finished'));
    }) };
    portico = await startPortico({
      'echo.yaml': `${service('echo', [echo])}---\n${ingress({ name: 'echo', host: 'echo.test', service: 'echo' })}---\n${
        ingress({ name: 'limited', host: 'limited.test', service: 'echo', annotations: { [`${NGINX}limit-rpm`]: '1', [`${NGINX}limit-burst-multiplier`]: '5' } })}`,
      'flaky.yaml': `${service('flaky', [refused, alive])}---\n${ingress({ name: 'flaky', host: 'flaky.test', service: 'flaky' })}`,
      'slow.yaml': `${service('slow', [slow])}---\n${ingress({ name: 'slow', host: 'slow.test', service: 'slow' })}`,
    }, 'undici', { workers: 2 });
    pool = (portico.app as unknown as { runtime: { serving: WorkerPool } }).runtime.serving;
  });

  afterAll(async () => {
    releaseSlow();
    await portico?.stop();
    await backends.close();
  });

  it('a rate limit counts for the instance: limit-rpm 1 with burst 5 lets 6 of 20 through, over both workers', async () => {
    const statuses = [];
    for (let i = 0; i < 20; i++) statuses.push((await get('limited.test')).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(6);
    expect(statuses.filter((s) => s === 503)).toHaveLength(14);
  });

  it('an endpoint one worker ejects is out of every worker\'s rotation: one failed attempt in all', async () => {
    for (let i = 0; i < 20; i++) {
      expect(echoed(await get('flaky.test')).server).toBe('alive');
      await sleep(5);
    }
    expect(await metric('portico_upstream_failures_total')).toBe(1);
  });

  it('/metrics and the dashboard report the instance: requests summed over the workers', async () => {
    const totals = async () => ((await (await fetch(`http://127.0.0.1:${portico.adminPort}/debug/dashboard`)).json()) as { totals: { requests: number; errors: number } }).totals;
    const before = await metric('nginx_ingress_controller_requests');
    const dashboardBefore = await totals();
    for (let i = 0; i < 30; i++) expect((await get('echo.test')).status).toBe(200);
    expect(await metric('nginx_ingress_controller_requests')).toBe(before + 30);
    expect(await totals()).toEqual({ requests: dashboardBefore.requests + 30, errors: dashboardBefore.errors });
  });

  it('a new table reaches every worker', async () => {
    await portico.apply('echo.yaml', `${service('echo', [{ address: '127.0.16.1', port: (portico.app.current!.backends.get('default/echo:80')!.endpoints[0]!.port) }])}---\n${
      ingress({ name: 'echo', host: 'renamed.test', service: 'echo' })}`);
    await waitFor(async () => (await get('renamed.test')).status === 200, 'the first worker to swap');
    for (let i = 0; i < 20; i++) expect((await get('renamed.test')).status).toBe(200);
  });

  it('a worker that dies is started again while the other keeps serving', async () => {
    const victim = (pool as unknown as { slots: { worker: { threadId: number; terminate(): Promise<number> } | undefined }[] }).slots[0]!.worker!;
    const died = victim.terminate();
    // A connection the kernel had already queued on the dying listener is reset (SO_REUSEPORT
    // does not move it); every request that reaches a listener is answered.
    const during: (number | 'reset')[] = [];
    for (let i = 0; i < 10; i++) during.push(await get('renamed.test').then((r) => r.status, () => 'reset' as const));
    await died;
    expect(during.filter((s) => s !== 'reset').every((s) => s === 200)).toBe(true);
    expect(during.filter((s) => s === 200).length).toBeGreaterThanOrEqual(5);
    await waitFor(() => {
      const replacement = (pool as unknown as { slots: { worker: { threadId: number } | undefined }[] }).slots[0]!.worker;
      return replacement !== undefined && replacement.threadId !== victim.threadId;
    }, 'the replacement worker');
    await sleep(300);
    for (let i = 0; i < 20; i++) expect((await get('renamed.test')).status).toBe(200);
  });

  it('graceful shutdown drains every worker: requests in flight finish, new connections are refused', async () => {
    const inFlight = Array.from({ length: 6 }, () => get('slow.test'));
    await waitFor(() => slowArrived === 6, 'the slow requests to arrive');
    const stopped = portico.app.shutdown(0, 5_000);
    await sleep(200);
    await expect(get('echo.test')).rejects.toThrow();
    releaseSlow();
    const replies = await Promise.all(inFlight);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(replies.every((r) => r.body === 'finished')).toBe(true);
    await stopped;
  });
});
