import { finalise } from './hashing.ts';

/**
 * nginx's `limit_req … nodelay` and `limit_conn`, per Portico instance: the counters live in
 * shared memory, so every worker thread of the instance reads and updates the same ones (as
 * nginx's workers share a zone). Fixed-size tables keep memory bounded whatever the number of
 * client addresses: a slot is found by a 64-bit hash of zone and client among the 8 slots of its
 * group, and a full group gives up its least recently used bucket. Each group has a lock word;
 * the critical sections are a few loads and stores with no allocation.
 */

const GROUP = 8;
const BUCKET_SLOTS = 1 << 17;
const CONNECTION_SLOTS = 1 << 14;
/** A lock held longer than this was abandoned (its thread was terminated inside it): take it. */
const LOCK_STALE_MS = 50;

/** The shared memory of one instance's limits, made once and handed to each worker. */
export interface RateLimitMemory {
  readonly buckets: SharedArrayBuffer;
  readonly connections: SharedArrayBuffer;
  /** Workers the connection counts have a column for. */
  readonly workers: number;
}

export function rateLimitMemory(workers = 1): RateLimitMemory {
  return {
    buckets: new SharedArrayBuffer(BUCKET_SLOTS / GROUP * 4 + BUCKET_SLOTS * (8 + 8 + 8)),
    connections: new SharedArrayBuffer(CONNECTION_SLOTS / GROUP * 4 + CONNECTION_SLOTS * 8 + CONNECTION_SLOTS * workers * 4),
    workers,
  };
}

/** A worker that died took its requests in progress with it: forget what it counted before its replacement starts. */
export function forgetWorkerConnections(memory: RateLimitMemory, worker: number): void {
  const counts = connectionViews(memory).counts;
  for (let slot = 0; slot < CONNECTION_SLOTS; slot++) Atomics.store(counts, slot * memory.workers + worker, 0);
}

function connectionViews(memory: RateLimitMemory) {
  const lockBytes = CONNECTION_SLOTS / GROUP * 4;
  return {
    locks: new Int32Array(memory.connections, 0, CONNECTION_SLOTS / GROUP),
    keys: new Uint32Array(memory.connections, lockBytes, CONNECTION_SLOTS * 2),
    counts: new Int32Array(memory.connections, lockBytes + CONNECTION_SLOTS * 8, CONNECTION_SLOTS * memory.workers),
  };
}

export class RateLimiter {
  private readonly now: () => number;
  private readonly worker: number;
  private readonly workers: number;
  private readonly bucketLocks: Int32Array;
  private readonly bucketKeys: Uint32Array;
  /** nginx's `excess`, in thousandths of a request. */
  private readonly excessMilli: Float64Array;
  private readonly lastMs: Float64Array;
  private readonly connectionLocks: Int32Array;
  private readonly connectionKeys: Uint32Array;
  private readonly counts: Int32Array;

  /**
   * `now` must read the same clock in every worker (milliseconds since the epoch, not a
   * thread's own `performance.now()`); `worker` is this thread's column of connection counts.
   */
  constructor(now: () => number, memory: RateLimitMemory = rateLimitMemory(), worker = 0) {
    this.now = now;
    this.worker = worker;
    this.workers = memory.workers;
    const lockBytes = BUCKET_SLOTS / GROUP * 4;
    this.bucketLocks = new Int32Array(memory.buckets, 0, BUCKET_SLOTS / GROUP);
    this.bucketKeys = new Uint32Array(memory.buckets, lockBytes, BUCKET_SLOTS * 2);
    this.excessMilli = new Float64Array(memory.buckets, lockBytes + BUCKET_SLOTS * 8, BUCKET_SLOTS);
    this.lastMs = new Float64Array(memory.buckets, lockBytes + BUCKET_SLOTS * 16, BUCKET_SLOTS);
    const c = connectionViews(memory);
    this.connectionLocks = c.locks;
    this.connectionKeys = c.keys;
    this.counts = c.counts;
  }

  /** One request at `perSecond` with `burst` extra requests allowed; false: refuse it. */
  take(key: string, perSecond: number, burst: number): boolean {
    const [hi, lo] = hash64(key);
    const group = (lo & (BUCKET_SLOTS / GROUP - 1));
    const now = this.now();
    lock(this.bucketLocks, group);
    try {
      let slot = -1;
      let oldest = -1;
      for (let i = group * GROUP; i < group * GROUP + GROUP; i++) {
        if (this.bucketKeys[2 * i] === hi && this.bucketKeys[2 * i + 1] === lo) {
          slot = i;
          break;
        }
        if (oldest === -1 || this.lastMs[i]! < this.lastMs[oldest]!) oldest = i;
      }
      if (slot === -1) {
        // A new client (or one whose bucket was given up): its first request passes.
        this.bucketKeys[2 * oldest] = hi;
        this.bucketKeys[2 * oldest + 1] = lo;
        this.excessMilli[oldest] = 0;
        this.lastMs[oldest] = now;
        return true;
      }
      const excess = Math.max(0, this.excessMilli[slot]! - perSecond * (now - this.lastMs[slot]!)) + 1000;
      if (excess > burst * 1000) return false;
      this.excessMilli[slot] = excess;
      this.lastMs[slot] = now;
      return true;
    } finally {
      Atomics.store(this.bucketLocks, group, 0);
    }
  }

  /**
   * A request in progress for `key`; returns the release, or undefined when `max` are already in
   * progress in the instance (or, as nginx when its zone is exhausted, when every slot of the
   * group is held by other clients with requests in progress).
   */
  enter(key: string, max: number): (() => void) | undefined {
    const [hi, lo] = hash64(key);
    const group = (lo & (CONNECTION_SLOTS / GROUP - 1));
    let slot = -1;
    lock(this.connectionLocks, group);
    try {
      let free = -1;
      for (let i = group * GROUP; i < group * GROUP + GROUP; i++) {
        if (this.connectionKeys[2 * i] === hi && this.connectionKeys[2 * i + 1] === lo) {
          slot = i;
          break;
        }
        if (free === -1 && this.total(i) === 0) free = i;
      }
      if (slot === -1) {
        if (free === -1) return undefined;
        slot = free;
        this.connectionKeys[2 * slot] = hi;
        this.connectionKeys[2 * slot + 1] = lo;
      }
      if (this.total(slot) >= max) return undefined;
      this.counts[slot * this.workers + this.worker]!++;
    } finally {
      Atomics.store(this.connectionLocks, group, 0);
    }
    let released = false;
    const held = slot;
    return () => {
      if (released) return;
      released = true;
      lock(this.connectionLocks, group);
      this.counts[held * this.workers + this.worker]!--;
      Atomics.store(this.connectionLocks, group, 0);
    };
  }

  private total(slot: number): number {
    let sum = 0;
    for (let w = 0; w < this.workers; w++) sum += this.counts[slot * this.workers + w]!;
    return sum;
  }
}

/**
 * Spins for the group's lock. Holders never wait on anything, so the wait is the length of a
 * few stores, or of the holder's thread being descheduled; a lock older than LOCK_STALE_MS
 * belonged to a thread terminated inside it, and is taken over.
 */
function lock(locks: Int32Array, group: number): void {
  if (Atomics.compareExchange(locks, group, 0, 1) === 0) return;
  const since = Date.now();
  for (let spins = 1; ; spins++) {
    if (Atomics.compareExchange(locks, group, 0, 1) === 0) return;
    if (spins % 1024 === 0 && Date.now() - since > LOCK_STALE_MS) return;
  }
}

/**
 * 64 bits in one pass: FNV-1a from two offsets, each finalised as hash32 is;
 * the second half is never zero (an all-zero key marks an empty slot).
 */
function hash64(text: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x2b992ddf;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  return [finalise(a), finalise(b) || 1];
}
