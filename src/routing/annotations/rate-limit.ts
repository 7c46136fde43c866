import { parseAddressRanges, type AddressRanges } from '../../table/address-ranges.ts';
import type { AnnotationFamily } from './family.ts';

/**
 * `limit-rps`, `limit-rpm`, `limit-connections`, `limit-burst-multiplier` (default 5) and
 * `limit-whitelist`: per client address and per Ingress (all its paths share one zone), per
 * Portico instance, as ingress-nginx's `limit_req … nodelay` and `limit_conn` zones.
 */
export const rateLimit: AnnotationFamily = {
  name: 'rate-limit',
  annotations: ['limit-rps', 'limit-rpm', 'limit-connections', 'limit-burst-multiplier', 'limit-whitelist'],
  scope: 'route',
  parse(read, context) {
    // 0 means "no limit" in ingress-nginx.
    const rps = read.wholeNumber('limit-rps', 0) || undefined;
    const rpm = read.wholeNumber('limit-rpm', 0) || undefined;
    const connections = read.wholeNumber('limit-connections', 0) || undefined;
    const burstMultiplier = read.wholeNumber('limit-burst-multiplier', 5, 1);
    let exempt: AddressRanges | undefined;
    const whitelist = read.get('limit-whitelist');
    if (whitelist) {
      const parsed = parseAddressRanges(whitelist.value);
      if (typeof parsed === 'string') read.invalid(whitelist.key, `${parsed}: no address is exempt from the limits`);
      else exempt = parsed;
    }
    if (rps === undefined && rpm === undefined && connections === undefined) return { route: { rateLimit: undefined } };
    const { namespace, name } = read.ref;
    return {
      route: {
        rateLimit: { zone: `${namespace}/${name}`, requestsPerSecond: rps, requestsPerMinute: rpm, connections, burstMultiplier, exempt,
          // The ConfigMap's limit-req-status-code and limit-conn-status-code (ingress-nginx: 503).
          requestStatus: context.config?.settings.limitReqStatus ?? 503, connectionStatus: context.config?.settings.limitConnStatus ?? 503 },
      },
    };
  },
  describe: (o) => ({ rateLimit: o.rateLimit ? { ...o.rateLimit, exempt: o.rateLimit.exempt?.text ?? null } : null }),
  step: (o) => o.rateLimit && { kind: 'rate-limit', policy: o.rateLimit },
};
