import type { RequestStep } from '../../table/steps.ts';
import type { RoutingTable } from '../../table/types.ts';
import { ACME_CHALLENGE_PREFIX } from '../../table/paths.ts';
import type { StepRunner } from './types.ts';

type Step<K extends RequestStep['kind']> = Extract<RequestStep, { kind: K }>;

/** A route whose access guard cannot be enforced: 503, never the backend unprotected. */
export const deny: StepRunner<Step<'deny'>> = () => ({ status: 503 });

/** `custom-headers`: on every response, replacing the pod's (a copy: later steps add to it). */
export const customHeaders: StepRunner<Step<'custom-headers'>> = (step, context) => {
  context.changes.response = { ...context.changes.response, ...step.headers };
  return undefined;
};

/** `permanent-redirect` / `temporal-redirect`. */
export const redirect: StepRunner<Step<'redirect'>> = (step) => ({ status: step.code, headers: { location: step.url } });

/** `proxy-body-size` against a declared Content-Length; streamed bodies are counted as they come. */
export const bodyLimit: StepRunner<Step<'body-limit'>> = (step, context) => {
  const declared = context.req.headers['content-length'];
  return declared !== undefined && Number(declared) > step.bytes ? { status: 413 } : undefined;
};

/**
 * ssl-redirect (hosts with a TLS section) and force-ssl-redirect (any host): 308 (the ConfigMap's
 * `http-redirect-code`) to https, on
 * the HTTP listener only, ACME challenges exempt. Like ingress-nginx, one trailing slash is
 * dropped unless preserve-trailing-slash is set.
 */
export const httpsRedirect: StepRunner<Step<'https-redirect'>> = ({ policy }, context) => {
  if (context.proto !== 'http' || context.httpsPort === undefined) return undefined;
  const head = context.head;
  if (!policy.force && !hasTls(context.table, head.host)) return undefined;
  if (head.path.startsWith(ACME_CHALLENGE_PREFIX)) return undefined;
  let path = head.rawPath;
  if (!policy.preserveTrailingSlash && path.endsWith('/')) path = path.slice(0, -1);
  const port = context.httpsPort === 443 ? '' : `:${context.httpsPort}`;
  return { status: context.table.settings.httpsRedirectCode, headers: { location: `https://${head.host}${port}${path}${head.query}` } };
};

/** The host has a TLS section in one of our Ingresses (exact, or a one-label wildcard). */
function hasTls(table: RoutingTable, host: string): boolean {
  if (table.tlsHosts.has(host)) return true;
  const dot = host.indexOf('.');
  return dot > 0 && table.tlsHosts.has(`*${host.slice(dot)}`);
}
