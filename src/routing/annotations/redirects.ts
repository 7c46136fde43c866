import type { AnnotationFamily } from './family.ts';
import { quote, WHOLE_NUMBER } from './reader.ts';

const REDIRECT_URL = /^https?:\/\/[-._~a-zA-Z0-9/:,?&=]+$/;

/** `permanent-redirect(-code)` and `temporal-redirect(-code)`; temporal wins, as in ingress-nginx. */
export const redirects: AnnotationFamily = {
  name: 'redirects',
  annotations: ['permanent-redirect', 'permanent-redirect-code', 'temporal-redirect', 'temporal-redirect-code'],
  scope: 'route',
  parse(read) {
    for (const [name, fallbackCode, maxCode] of [['temporal-redirect', 302, 307], ['permanent-redirect', 301, 308]] as const) {
      const url = read.matching(name, REDIRECT_URL, 'an http(s) URL made of URL-safe characters');
      if (url === undefined) continue;
      let code: number = fallbackCode;
      const c = read.get(`${name}-code`);
      if (c) {
        const n = Number(c.value);
        if (WHOLE_NUMBER.test(c.value) && n >= 300 && n <= maxCode) code = n;
        else read.invalid(c.key, `"${quote(c.value)}" is not a redirect code between 300 and ${maxCode}`, String(fallbackCode));
      }
      return { route: { redirect: { url, code } } };
    }
    return { route: { redirect: undefined } };
  },
  describe: (o) => ({ redirect: o.redirect ?? null }),
  step: (o) => o.redirect && { kind: 'redirect', url: o.redirect.url, code: o.redirect.code },
};
