import { LRUCache } from 'lru-cache';

/** Leaky-bucket state of one client in one zone: nginx's `excess` in thousandths of a request. */
interface Bucket {
  excessMilli: number;
  lastMs: number;
}

/**
 * nginx's `limit_req … nodelay` and `limit_conn`, per Portico process. A request passes while
 * the client's excess (requests above the rate, leaking at the rate) is within the burst; with
 * `nodelay` nothing is queued, so a request beyond it is refused at once. States live in an LRU,
 * so a flood of client addresses evicts the oldest instead of growing without bound.
 */
export class RateLimiter {
  private readonly buckets = new LRUCache<string, Bucket>({ max: 100_000 });
  private readonly inFlight = new Map<string, number>();
  private readonly now: () => number;

  constructor(now: () => number) {
    this.now = now;
  }

  /** One request at `perSecond` with `burst` extra requests allowed; false: refuse it. */
  take(key: string, perSecond: number, burst: number): boolean {
    const now = this.now();
    const bucket = this.buckets.get(key);
    if (!bucket) {
      this.buckets.set(key, { excessMilli: 0, lastMs: now });
      return true;
    }
    const excess = Math.max(0, bucket.excessMilli - perSecond * (now - bucket.lastMs)) + 1000;
    if (excess > burst * 1000) return false;
    bucket.excessMilli = excess;
    bucket.lastMs = now;
    return true;
  }

  /** A request in progress for `key`; returns the release, or undefined when `max` are already in progress. */
  enter(key: string, max: number): (() => void) | undefined {
    const count = this.inFlight.get(key) ?? 0;
    if (count >= max) return undefined;
    this.inFlight.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.inFlight.get(key)! - 1;
      if (left === 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
    };
  }
}
