import type { AnnotationFamily } from './family.ts';
import { quote } from './reader.ts';
import { parseRequestTemplate, TEMPLATE_VARIABLES } from './request-template.ts';

/**
 * `upstream-hash-by` (consistent hashing: the same key reaches the same endpoint on every replica,
 * and a change of endpoints moves only a share of the keys) and `load-balance` (`round_robin`, or
 * `ewma`: the quicker of two random endpoints by recent latency and requests in progress).
 */
export const loadBalancing: AnnotationFamily = {
  name: 'load-balancing',
  annotations: ['upstream-hash-by', 'load-balance'],
  scope: 'backend',
  parse(read) {
    let upstreamHash;
    const a = read.get('upstream-hash-by');
    if (a) {
      const parsed = a.value.length > 256 ? 'a key longer than 256 characters' : parseRequestTemplate(a.value);
      if (typeof parsed === 'string') read.invalid(a.key, `"${quote(a.value)}": ${parsed.startsWith('$') ? `the variable ${parsed} is not one Portico can hash (${TEMPLATE_VARIABLES})` : parsed}`);
      else if (parsed.parts.length > 0) upstreamHash = parsed;
    }
    return { route: { upstreamHash, loadBalance: read.oneOf('load-balance', ['round_robin', 'ewma'] as const, 'round_robin') } };
  },
  describe: (o) => ({ upstreamHash: o.upstreamHash?.source ?? null, loadBalance: o.loadBalance }),
};
