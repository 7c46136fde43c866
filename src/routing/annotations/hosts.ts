import type { AnnotationFamily } from './family.ts';
import { quote, splitList } from './reader.ts';

const HOST = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * `server-alias` (more names for the hosts of the Ingress's rules: the same routes answer them)
 * and `from-to-www-redirect` (`www.` added or removed: 308 to the host as written in the rule).
 * Both are host-level, as in ingress-nginx's server block; a name another rule claims is left alone.
 */
export const hosts: AnnotationFamily = {
  name: 'hosts',
  annotations: ['server-alias', 'from-to-www-redirect'],
  scope: 'host',
  parse(read) {
    const aliases: string[] = [];
    const a = read.get('server-alias');
    if (a) {
      for (const alias of splitList(a.value).map((h) => h.toLowerCase())) {
        if (alias.length <= 253 && HOST.test(alias)) aliases.push(alias);
        else read.invalid(a.key, `"${quote(alias)}" is not a host name (wildcards are not aliases)`);
      }
    }
    return { host: { serverAliases: aliases, fromToWwwRedirect: read.bool('from-to-www-redirect', false) } };
  },
};
