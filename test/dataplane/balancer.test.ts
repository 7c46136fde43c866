import { describe, expect, it } from 'vitest';
import { Balancer } from '../../src/dataplane/balancer.ts';
import type { Backend } from '../../src/table/types.ts';

const backend = (affinityTimeoutMs?: number): Backend => ({
  id: 'ns/svc:80', namespace: 'ns', service: 'svc', port: '80', affinityTimeoutMs, unready: [],
  endpoints: ['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((address) => ({ address, port: 80, key: `${address}:80`, target: undefined })),
});

describe('balancer', () => {
  it('goes round robin and skips excluded endpoints', () => {
    const b = new Balancer();
    const be = backend();
    expect([1, 2, 3, 4].map(() => b.pick(be, 'c')!.address)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1']);
    expect(b.pick(be, 'c', new Set([be.endpoints[1]!]))!.address).toBe('10.0.0.3');
    expect(b.pick(be, 'c', new Set(be.endpoints))).toBeUndefined();
  });

  it('pins a client until the affinity timeout passes without requests', () => {
    let now = 0;
    const b = new Balancer(() => now);
    const be = backend(1000);
    const first = b.pick(be, 'client-a')!;
    b.pick(be, 'client-b');
    now = 900;
    expect(b.pick(be, 'client-a')).toBe(first);
    now = 1800; // 900 ms after the last request: still pinned, the timer restarted
    expect(b.pick(be, 'client-a')).toBe(first);
    now = 3000;
    expect(b.pick(be, 'client-a')).not.toBe(first);
  });

  it('moves a pinned client when its endpoint is gone', () => {
    const b = new Balancer();
    const be = backend(60_000);
    const first = b.pick(be, 'client')!;
    const without = { ...be, endpoints: be.endpoints.filter((e) => e !== first) };
    expect(b.pick(without, 'client')).not.toBe(first);
  });
});

describe('passive health', () => {
  it('takes a failing endpoint out of rotation for a back-off, then puts it back', () => {
    let now = 0;
    const b = new Balancer(() => now);
    const be = backend();
    b.health.failed('10.0.0.2:80');
    expect([1, 2, 3, 4].map(() => b.pick(be, 'c')!.address)).toEqual(['10.0.0.1', '10.0.0.3', '10.0.0.1', '10.0.0.3']);
    now = 5_000; // the first back-off is 5 s
    expect([1, 2, 3].map(() => b.pick(be, 'c')!.address).sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  it('doubles the back-off while the endpoint keeps failing, and a success resets it', () => {
    let now = 0;
    const b = new Balancer(() => now);
    b.health.failed('10.0.0.2:80');
    now = 5_000;
    b.health.failed('10.0.0.2:80');
    expect(b.health.stats('10.0.0.2:80').ejectedForMs).toBe(10_000);
    b.health.succeeded('10.0.0.2:80');
    now = 20_000;
    b.health.failed('10.0.0.2:80');
    expect(b.health.stats('10.0.0.2:80').ejectedForMs).toBe(5_000);
  });

  it('doubles once per ejection, not once per request that was in flight when the pod died (F12)', () => {
    let now = 0;
    const b = new Balancer(() => now);
    const ejections: number[] = [];
    b.health.onEject = (_key, forMs) => ejections.push(forMs);
    for (let i = 0; i < 17; i++) b.health.failed('10.0.0.2:80'); // one crash, 17 requests in flight
    expect(ejections).toEqual([5_000]);
    expect(b.health.stats('10.0.0.2:80').ejectedForMs).toBe(5_000);
    now = 5_000; // restarted within the back-off: back in rotation now, not after a minute
    expect([1, 2, 3].map(() => b.pick(backend(), 'c')!.address)).toContain('10.0.0.2');
  });

  it('never takes every endpoint out: when all are out, all are tried', () => {
    const b = new Balancer(() => 0);
    const be = backend();
    for (const e of be.endpoints) b.health.failed(`${e.address}:${e.port}`);
    expect(new Set([1, 2, 3].map(() => b.pick(be, 'c')!.address)).size).toBe(3);
  });

  it('reports a recent error rate per endpoint', () => {
    const b = new Balancer(() => 0);
    b.health.succeeded('10.0.0.1:80');
    b.health.succeeded('10.0.0.1:80');
    b.health.succeeded('10.0.0.1:80');
    b.health.failed('10.0.0.1:80');
    expect(b.health.stats('10.0.0.1:80')).toMatchObject({ requests: 4, errorRate: 0.25, ejected: true });
  });
});
