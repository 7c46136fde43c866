import type { AnnotationFamily } from './family.ts';

/**
 * Snippets are nginx configuration text: Portico never executes them. Each is refused with the
 * message ingress-nginx gives when snippets are disabled (its default since v1.9), and the rest
 * of the Ingress serves. The README lists the typed annotations that replace common snippets.
 */
export const snippets: AnnotationFamily = {
  name: 'snippets',
  annotations: ['configuration-snippet', 'server-snippet', 'auth-snippet', 'stream-snippet', 'modsecurity-snippet'],
  scope: 'route',
  parse(read) {
    for (const name of snippets.annotations) {
      const a = read.get(name);
      if (a) read.warn(a.key, 'RefusedSnippet', `${a.key} annotation cannot be used. Snippet directives are disabled by the Ingress administrator`, true);
    }
    return {};
  },
};
