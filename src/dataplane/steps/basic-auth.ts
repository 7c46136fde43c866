import type { RequestStep } from '../../table/steps.ts';
import type { StepAnswer, StepRunner } from './types.ts';

/** `user:password` from `Authorization: Basic …`, or undefined. */
function credentialsOf(header: string | undefined): [string, string] | undefined {
  if (header === undefined || header.length < 7 || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

/** nginx auth_basic: 401 with the challenge unless a listed user's password matches; Authorization is not forwarded. */
export const basicAuth: StepRunner<Extract<RequestStep, { kind: 'basic-auth' }>> = ({ policy }, context) => {
  const unauthorized: StepAnswer = { status: 401, headers: { 'www-authenticate': policy.challenge } };
  const credentials = credentialsOf(context.req.headers.authorization);
  const stored = credentials && policy.users.get(credentials[0]);
  if (!credentials || !stored) return unauthorized;
  (context.dropRequestHeaders ??= []).push('authorization');
  return context.state.passwords.verify(credentials[1], stored).then((ok) => (ok ? undefined : unauthorized));
};
