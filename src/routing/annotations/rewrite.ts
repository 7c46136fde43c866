import type { RewriteTemplate } from '../../table/types.ts';
import type { AnnotationFamily } from './family.ts';

/** ingress-nginx's validator for rewrite targets and prefixes (parser/validators.go). */
const URI_TEMPLATE = /^\/?[-._~a-zA-Z0-9/:$]*$/;

export function compileRewriteTemplate(target: string): RewriteTemplate {
  const parts: (string | number)[] = [];
  const re = /\$(\d)/g;
  let last = 0;
  for (let m = re.exec(target); m; m = re.exec(target)) {
    if (m.index > last) parts.push(target.slice(last, m.index));
    parts.push(Number(m[1]));
    last = m.index + m[0].length;
  }
  if (last < target.length) parts.push(target.slice(last));
  return { source: target, parts };
}

/**
 * `rewrite-target` ($1…$9 of the path regex), `use-regex` and `x-forwarded-prefix`. Either of the
 * first two puts the whole host in regex mode, as in ingress-nginx.
 */
export const rewrite: AnnotationFamily = {
  name: 'rewrite',
  annotations: ['rewrite-target', 'use-regex', 'x-forwarded-prefix'],
  scope: 'route',
  parse(read) {
    const target = read.matching('rewrite-target', URI_TEMPLATE, 'a path made of letters, digits, "-._~/:" and $1…$9');
    const useRegex = read.bool('use-regex', false);
    return {
      route: {
        rewrite: target === undefined ? undefined : compileRewriteTemplate(target),
        forwardedPrefix: read.matching('x-forwarded-prefix', URI_TEMPLATE, 'a path'),
      },
      host: { regexMode: useRegex || target !== undefined },
    };
  },
  describe: (o) => ({ rewriteTarget: o.rewrite?.source ?? null, forwardedPrefix: o.forwardedPrefix ?? null }),
};

/** `app-root`: a host-level setting in ingress-nginx (`if ($uri = /)` in the server block). */
export const appRoot: AnnotationFamily = {
  name: 'app-root',
  annotations: ['app-root'],
  scope: 'host',
  parse(read) {
    let path = read.matching('app-root', URI_TEMPLATE, 'a path');
    if (path !== undefined && !path.startsWith('/')) {
      read.invalid(read.get('app-root')!.key, `"${path}" must start with /`);
      path = undefined;
    }
    return { host: { appRoot: path } };
  },
};
