import { rangesContain } from '../../table/address-ranges.ts';
import type { RequestStep } from '../../table/steps.ts';
import { parsedClient } from './client-address.ts';
import type { StepRunner } from './types.ts';

const FORBIDDEN = { status: 403 } as const;

/** Deny list first, then the allow list: 403 outside, as nginx's `deny …; allow …; deny all;`. */
export const access: StepRunner<Extract<RequestStep, { kind: 'access' }>> = ({ policy }, context) => {
  const client = parsedClient(context);
  if (!client) return FORBIDDEN;
  if (policy.deny && rangesContain(policy.deny, client)) return FORBIDDEN;
  if (policy.allow && !rangesContain(policy.allow, client)) return FORBIDDEN;
  return undefined;
};
