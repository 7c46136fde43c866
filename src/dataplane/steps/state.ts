import { AuthClient } from '../auth-client.ts';
import { PasswordCheck } from '../password-check.ts';
import { AuthCache } from './external-auth.ts';
import { RateLimiter } from '../rate-limiter.ts';

/**
 * What the steps remember between requests, per Portico process: kept across table swaps
 * (keyed by zone and client, not by table objects), bounded in size.
 */
export class StepState {
  readonly rateLimiter: RateLimiter;
  readonly passwords = new PasswordCheck();
  readonly auth = new AuthClient();
  readonly authCache = new AuthCache();

  constructor(now: () => number = () => performance.now()) {
    this.rateLimiter = new RateLimiter(now);
  }

  async close(): Promise<void> {
    await this.auth.close();
  }
}
