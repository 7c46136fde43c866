import type { NextUpstreamPolicy } from '../../table/types.ts';
import type { AnnotationFamily } from './family.ts';
import { quote, WHOLE_NUMBER } from './reader.ts';

const TOKEN = /^(error|timeout|invalid_header|http_(500|502|503|504|403|404|429)|non_idempotent|off)$/;
const DEFAULT: NextUpstreamPolicy = Object.freeze({ onError: true, onTimeout: true, onStatus: new Set<number>(), nonIdempotent: false, tries: 3 });

/** `proxy-next-upstream` (default "error timeout") and `proxy-next-upstream-tries` (default 3). */
export const nextUpstream: AnnotationFamily = {
  name: 'next-upstream',
  annotations: ['proxy-next-upstream', 'proxy-next-upstream-tries'],
  scope: 'route',
  parse(read) {
    let tries = DEFAULT.tries;
    const triesValue = read.get('proxy-next-upstream-tries');
    if (triesValue) {
      if (WHOLE_NUMBER.test(triesValue.value)) tries = Number(triesValue.value);
      else read.invalid(triesValue.key, `"${quote(triesValue.value)}" is not a whole number`, String(DEFAULT.tries));
    }
    const a = read.get('proxy-next-upstream');
    if (!a) return { route: { nextUpstream: tries === DEFAULT.tries ? DEFAULT : { ...DEFAULT, tries } } };
    const tokens = a.value.split(/\s+/).filter(Boolean);
    const bad = tokens.find((t) => !TOKEN.test(t));
    if (bad !== undefined || tokens.length === 0) {
      read.invalid(a.key, `"${quote(bad ?? a.value)}" is not one of error, timeout, invalid_header, http_5xx/403/404/429, non_idempotent, off`, '"error timeout"');
      return { route: { nextUpstream: { ...DEFAULT, tries } } };
    }
    if (tokens.includes('off')) return { route: { nextUpstream: { onError: false, onTimeout: false, onStatus: new Set(), nonIdempotent: false, tries: 1 } } };
    return {
      route: {
        nextUpstream: {
          onError: tokens.includes('error') || tokens.includes('invalid_header'),
          onTimeout: tokens.includes('timeout'),
          onStatus: new Set(tokens.filter((t) => t.startsWith('http_')).map((t) => Number(t.slice(5)))),
          nonIdempotent: tokens.includes('non_idempotent'),
          tries,
        },
      },
    };
  },
  describe: (o) => ({ nextUpstream: { ...o.nextUpstream, onStatus: [...o.nextUpstream.onStatus] } }),
};
