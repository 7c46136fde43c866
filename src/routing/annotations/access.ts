import { parseAddressRanges, type AddressRanges } from '../../table/address-ranges.ts';
import type { AnnotationFamily } from './family.ts';
import type { AnnotationReader } from './reader.ts';

/** A CIDR list annotation; an unusable one fails the Ingress closed (an allow-list must never open up). */
function ranges(read: AnnotationReader, name: string): AddressRanges | undefined {
  const a = read.get(name);
  if (!a) return undefined;
  const parsed = parseAddressRanges(a.value);
  if (typeof parsed === 'string') {
    read.failClosed(a.key, parsed);
    return undefined;
  }
  return parsed;
}

/**
 * `whitelist-source-range` (its newer name `allowlist-source-range` wins) and
 * `denylist-source-range`: 403 for clients outside the allow list or inside the deny list,
 * deny checked first, as ingress-nginx renders `deny …; allow …; deny all;`.
 */
export const access: AnnotationFamily = {
  name: 'access',
  annotations: ['whitelist-source-range', 'allowlist-source-range', 'denylist-source-range'],
  scope: 'route',
  parse(read) {
    const allow = ranges(read, read.has('allowlist-source-range') ? 'allowlist-source-range' : 'whitelist-source-range');
    const deny = ranges(read, 'denylist-source-range');
    return { route: { access: allow || deny ? { allow, deny } : undefined } };
  },
  describe: (o) => ({ access: o.access ? { allow: o.access.allow?.text ?? null, deny: o.access.deny?.text ?? null } : null }),
  step: (o) => o.access && { kind: 'access', policy: o.access },
};
