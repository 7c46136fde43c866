import { AuthClient } from '../auth-client.ts';
import { PasswordCheck } from '../password-check.ts';
import { AuthCache } from './external-auth.ts';
import { RateLimiter, type RateLimitMemory } from '../rate-limiter.ts';

/**
 * What the steps remember between requests: kept across table swaps (keyed by zone and client,
 * not by table objects), bounded in size. Rate and connection limits are the instance's, shared
 * by its workers through `limits`; recent logins and auth answers are each worker's own cache.
 */
export class StepState {
  readonly rateLimiter: RateLimiter;
  readonly passwords = new PasswordCheck();
  readonly auth = new AuthClient();
  readonly authCache = new AuthCache();

  constructor(limits?: { memory: RateLimitMemory; worker: number }, now: () => number = epochMs) {
    this.rateLimiter = new RateLimiter(now, limits?.memory, limits?.worker);
  }

  async close(): Promise<void> {
    await this.auth.close();
  }
}

/** The same clock in every thread, monotonic within one: each thread's `performance.now()` counts from its own start. */
function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
