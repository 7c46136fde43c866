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

  it('pins a client by its address alone: every balancer (another worker, another replica) picks the same endpoint', () => {
    const be = backend(1000);
    const workers = [new Balancer(), new Balancer(), new Balancer()];
    const clients = Array.from({ length: 30 }, (_, i) => `198.51.100.${i}`);
    for (const client of clients) {
      const first = workers[0]!.pick(be, client)!;
      for (const w of workers) for (let i = 0; i < 3; i++) expect(w.pick(be, client)).toBe(first);
    }
    // And clients spread over the endpoints.
    expect(new Set(clients.map((c) => workers[0]!.pick(be, c)!.address)).size).toBe(3);
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
    b.health.onEject = (e) => ejections.push(e.backoffMs);
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

describe('consistent hashing', () => {
  it('maps a key to one endpoint, and removing an endpoint moves only its own keys', () => {
    const b = new Balancer();
    const four = backend();
    const wide: Backend = { ...four, endpoints: [...four.endpoints, { address: '10.0.0.4', port: 80, key: '10.0.0.4:80', target: undefined }] };
    const keys = Array.from({ length: 400 }, (_, i) => `user-${i}`);
    const before = new Map(keys.map((k) => [k, b.pickHashed(wide, k)!.key]));
    for (const k of keys.slice(0, 20)) expect(b.pickHashed(wide, k)!.key).toBe(before.get(k));
    const counts = new Map<string, number>();
    for (const key of before.values()) counts.set(key, (counts.get(key) ?? 0) + 1);
    for (const n of counts.values()) expect(n).toBeGreaterThan(60); // 100 expected each
    const narrower: Backend = { ...wide, endpoints: wide.endpoints.filter((e) => e.key !== '10.0.0.4:80') };
    for (const k of keys) {
      if (before.get(k) !== '10.0.0.4:80') expect(b.pickHashed(narrower, k)!.key).toBe(before.get(k));
    }
  });

  it('ewma prefers the endpoint that answers faster', () => {
    let now = 0;
    const b = new Balancer(() => now);
    const two: Backend = { ...backend(), endpoints: backend().endpoints.slice(0, 2) };
    for (let i = 0; i < 20; i++) {
      now += 100;
      b.started(two.endpoints[0]!)(5);
      b.started(two.endpoints[1]!)(200);
    }
    const picks = Array.from({ length: 50 }, () => b.pickEwma(two)!.address);
    expect(picks.every((a) => a === '10.0.0.1')).toBe(true);
  });
});
