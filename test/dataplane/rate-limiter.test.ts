// The instance's limits are shared by its worker threads: counted in one place, whoever serves.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { forgetWorkerConnections, RateLimiter, rateLimitMemory } from '../../src/dataplane/rate-limiter.ts';

const LIMITER = new URL('../../src/dataplane/rate-limiter.ts', import.meta.url).href;

/** Runs `takes` rate-limited requests for `key` in a real worker thread over `memory`; resolves with how many passed. */
function takeInThread(memory: ReturnType<typeof rateLimitMemory>, worker: number, key: string, takes: number): Promise<number> {
  const code = `
    import { workerData, parentPort } from 'node:worker_threads';
    const { RateLimiter } = await import(${JSON.stringify(LIMITER)});
    const limiter = new RateLimiter(() => 1_000_000, workerData.memory, workerData.worker);
    let passed = 0;
    for (let i = 0; i < workerData.takes; i++) if (limiter.take(workerData.key, 1, 10)) passed++;
    const held = limiter.enter(workerData.key, 100);
    parentPort.postMessage(passed);
  `;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { memory, worker, key, takes } });
    w.once('message', (n) => { resolve(n as number); void w.terminate(); });
    w.once('error', reject);
  });
}

describe('rate limiter', () => {
  it('leaks at the rate and allows the burst (nginx limit_req nodelay)', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    const passed = Array.from({ length: 20 }, () => limiter.take('zone\0client', 5, 3)).filter(Boolean).length;
    expect(passed).toBe(4); // the first, then 3 of burst
    now += 200; // one request leaked out at 5/s
    expect(limiter.take('zone\0client', 5, 3)).toBe(true);
    expect(limiter.take('zone\0client', 5, 3)).toBe(false);
    expect(limiter.take('zone\0other', 5, 3)).toBe(true);
  });

  it('two worker threads draw from one bucket: 20 attempts each, 11 pass in all (1 + burst 10)', async () => {
    const memory = rateLimitMemory(2);
    const passed = await Promise.all([takeInThread(memory, 0, 'z/198.51.100.7', 20), takeInThread(memory, 1, 'z/198.51.100.7', 20)]);
    expect(passed[0]! + passed[1]!).toBe(11);
    // And the main thread sees the same bucket exhausted.
    expect(new RateLimiter(() => 1_000_000, memory, 0).take('z/198.51.100.7', 1, 10)).toBe(false);
  });

  it('connections in progress are counted across workers, released once, and forgotten with a dead worker', async () => {
    const memory = rateLimitMemory(2);
    const a = new RateLimiter(() => 0, memory, 0);
    const b = new RateLimiter(() => 0, memory, 1);
    const first = a.enter('z/c', 2)!;
    const second = b.enter('z/c', 2)!;
    expect(a.enter('z/c', 2)).toBeUndefined();
    first();
    first();
    const third = a.enter('z/c', 2);
    expect(third).toBeDefined();
    expect(b.enter('z/c', 2)).toBeUndefined();
    void second;
    forgetWorkerConnections(memory, 1); // worker 1 died holding `second`
    expect(b.enter('z/c', 2)).toBeDefined();
  });

  it('a flood of client addresses stays in bounded memory and evicts the least recent, never refusing a new client', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now, rateLimitMemory(1));
    let refused = 0;
    for (let i = 0; i < 300_000; i++) {
      now++;
      if (!limiter.take(`z/${i}`, 1, 0)) refused++;
    }
    expect(refused).toBe(0);
    // The most recent clients are still remembered: their next request is over the rate.
    expect(limiter.take('z/299999', 1, 0)).toBe(false);
    expect(limiter.take('z/299000', 1, 0)).toBe(false);
  });
});
