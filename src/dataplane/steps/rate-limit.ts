import { rangesContain } from '../../table/address-ranges.ts';
import type { RequestStep } from '../../table/steps.ts';
import { parsedClient } from './client-address.ts';
import type { StepRunner } from './types.ts';

/**
 * `limit-connections`, then `limit-rpm`, then `limit-rps` (ingress-nginx's order), keyed by
 * zone and client address; `limit-whitelist` addresses pass untouched.
 */
export const rateLimit: StepRunner<Extract<RequestStep, { kind: 'rate-limit' }>> = ({ policy }, context) => {
  if (policy.exempt) {
    const client = parsedClient(context);
    if (client && rangesContain(policy.exempt, client)) return undefined;
  }
  const limiter = context.state.rateLimiter;
  const key = `${policy.zone}|${context.clientAddress}`;
  let release: (() => void) | undefined;
  if (policy.connections !== undefined) {
    release = limiter.enter(key, policy.connections);
    if (!release) return { status: policy.connectionStatus };
  }
  const refused =
    (policy.requestsPerMinute !== undefined && !limiter.take(`${key}|m`, policy.requestsPerMinute / 60, policy.requestsPerMinute * policy.burstMultiplier)) ||
    (policy.requestsPerSecond !== undefined && !limiter.take(`${key}|s`, policy.requestsPerSecond, policy.requestsPerSecond * policy.burstMultiplier));
  if (release) (context.onDone ??= []).push(release);
  return refused ? { status: policy.requestStatus } : undefined;
};
