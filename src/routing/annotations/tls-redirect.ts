import type { AnnotationFamily } from './family.ts';

/**
 * `ssl-redirect` (default on for hosts with a TLS section), `force-ssl-redirect`,
 * `preserve-trailing-slash` and `hsts`: HTTPS enforcement, 308 like ingress-nginx.
 */
export const tlsRedirect: AnnotationFamily = {
  name: 'tls-redirect',
  annotations: ['ssl-redirect', 'force-ssl-redirect', 'preserve-trailing-slash', 'hsts'],
  scope: 'route',
  parse: (read) => ({
    route: {
      sslRedirect: read.bool('ssl-redirect', true),
      forceSslRedirect: read.bool('force-ssl-redirect', false),
      preserveTrailingSlash: read.bool('preserve-trailing-slash', false),
      hsts: read.bool('hsts', true),
    },
  }),
  describe: (o) => ({ sslRedirect: o.sslRedirect, forceSslRedirect: o.forceSslRedirect, preserveTrailingSlash: o.preserveTrailingSlash, hsts: o.hsts }),
  step: (o) => (o.sslRedirect || o.forceSslRedirect
    ? { kind: 'https-redirect', policy: { force: o.forceSslRedirect, preserveTrailingSlash: o.preserveTrailingSlash } }
    : undefined),
};
