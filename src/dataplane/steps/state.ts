import { PasswordCheck } from '../password-check.ts';
import { RateLimiter } from '../rate-limiter.ts';

/**
 * What the steps remember between requests, per Portico process: kept across table swaps
 * (keyed by zone and client, not by table objects), bounded in size.
 */
export class StepState {
  readonly rateLimiter: RateLimiter;
  readonly passwords = new PasswordCheck();

  constructor(now: () => number = () => performance.now()) {
    this.rateLimiter = new RateLimiter(now);
  }
}
