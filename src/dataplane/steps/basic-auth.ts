import type { RequestStep } from '../../table/steps.ts';
import { basicCredentials } from '../credentials.ts';
import type { StepAnswer, StepRunner } from './types.ts';

/** nginx auth_basic: 401 with the challenge unless a listed user's password matches; Authorization is not forwarded. */
export const basicAuth: StepRunner<Extract<RequestStep, { kind: 'basic-auth' }>> = ({ policy }, context) => {
  const unauthorized: StepAnswer = { status: 401, headers: { 'www-authenticate': policy.challenge } };
  const credentials = basicCredentials(context.req.headers.authorization);
  const stored = credentials && policy.users.get(credentials[0]);
  if (!credentials || !stored) return unauthorized;
  (context.changes.dropFromRequest ??= []).push('authorization');
  return context.state.passwords.verify(credentials[1], stored).then((ok) => (ok ? undefined : unauthorized));
};
