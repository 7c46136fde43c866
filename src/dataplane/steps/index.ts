import type { RequestStep, StepKind } from '../../table/steps.ts';
import { access } from './access.ts';
import { basicAuth } from './basic-auth.ts';
import { cors } from './cors.ts';
import { externalAuth } from './external-auth.ts';
import { gatewayCors, gatewayModify, gatewayRedirect } from './gateway.ts';
import { rateLimit } from './rate-limit.ts';
import { bodyLimit, customHeaders, deny, httpsRedirect, redirect } from './simple.ts';
import type { StepContext, StepOutcome, StepRunner } from './types.ts';

export type { StepAnswer, StepContext } from './types.ts';
export { StepState } from './state.ts';

/** One runner per step kind: the data-plane half of an annotation family. */
const RUNNERS: { readonly [K in StepKind]: StepRunner<Extract<RequestStep, { kind: K }>> } = {
  'deny': deny,
  'custom-headers': customHeaders,
  'cors': cors,
  'redirect': redirect,
  'https-redirect': httpsRedirect,
  'access': access,
  'rate-limit': rateLimit,
  'basic-auth': basicAuth,
  'external-auth': externalAuth,
  'body-limit': bodyLimit,
  'gateway-redirect': gatewayRedirect,
  'gateway-modify': gatewayModify,
  'gateway-cors': gatewayCors,
};

/**
 * Runs a route's steps in order until one answers. Synchronous as long as every step is (the
 * common case costs no promise); from the first asynchronous step on, the rest run after it.
 */
export function runSteps(steps: readonly RequestStep[], context: StepContext, from = 0): StepOutcome | Promise<StepOutcome> {
  for (let i = from; i < steps.length; i++) {
    const step = steps[i]!;
    const outcome = (RUNNERS[step.kind] as StepRunner)(step, context);
    if (outcome instanceof Promise) return outcome.then((answer) => answer ?? runSteps(steps, context, i + 1));
    if (outcome) return outcome;
  }
  return undefined;
}
