import type { AnnotationFamily } from './family.ts';
import { quote, splitList } from './reader.ts';

const SERVICE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * `custom-http-errors` (nginx's proxy_intercept_errors for these statuses: the answer comes from
 * the error backend instead) and `default-backend` (a Service of the Ingress's namespace, first
 * port: it serves those errors, and the requests of a backend without ready endpoints).
 */
export const errors: AnnotationFamily = {
  name: 'errors',
  annotations: ['custom-http-errors', 'default-backend'],
  scope: 'backend',
  parse(read) {
    let customErrors: Set<number> | undefined;
    const codes = read.get('custom-http-errors');
    if (codes) {
      const items = splitList(codes.value);
      const bad = items.find((c) => !/^[1-5]\d\d$/.test(c) || Number(c) < 400);
      if (bad !== undefined || items.length === 0) read.invalid(codes.key, `"${quote(bad ?? codes.value)}" is not an HTTP error status (400–599)`);
      else customErrors = new Set(items.map(Number));
    }
    const service = read.matching('default-backend', SERVICE_NAME, 'a Service name of this namespace', 63);
    return { route: { customErrors, defaultBackend: undefined }, backend: { defaultBackendService: service } };
  },
  describe: (o) => ({ customErrors: o.customErrors ? [...o.customErrors] : null, defaultBackend: o.defaultBackend?.id ?? null }),
};
