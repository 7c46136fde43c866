import RE2 from 're2';
import type { CanaryRules } from '../../table/types.ts';
import type { AnnotationFamily } from './family.ts';
import { quote, type AnnotationReader } from './reader.ts';

const RULES = ['canary-by-header', 'canary-by-header-value', 'canary-by-header-pattern', 'canary-by-cookie', 'canary-weight', 'canary-weight-total'];
/** Header and cookie names as HTTP allows them (RFC 9110 tokens). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;

function token(read: AnnotationReader, name: string): string | undefined {
  const value = read.matching(name, TOKEN, 'a header or cookie name', 256);
  return value;
}

/**
 * `canary: "true"` makes the Ingress an alternative backend for the same host and path of another
 * Ingress; `canary-by-header` (`always`/`never`, or `-value`, or the RE2 `-pattern`), then
 * `canary-by-cookie` (`always`/`never`), then `canary-weight` of `canary-weight-total` (100) pick
 * which requests go to it. Canary rules without `canary: "true"` are reported and ignored.
 */
export const canary: AnnotationFamily = {
  name: 'canary',
  annotations: ['canary', ...RULES],
  scope: 'backend',
  parse(read) {
    const enabled = read.bool('canary', false);
    if (!enabled) {
      for (const name of RULES) {
        const a = read.get(name);
        if (a) read.invalid(a.key, 'canary annotation configured but not enabled (canary: "true" is missing)');
      }
      return { backend: { canary: undefined } };
    }
    const header = token(read, 'canary-by-header')?.toLowerCase();
    const headerValue = read.get('canary-by-header-value')?.value;
    let headerPattern: RE2 | undefined;
    const pattern = read.get('canary-by-header-pattern');
    if (pattern && headerValue === undefined) {
      try {
        headerPattern = new RE2(pattern.value);
      } catch (err) {
        read.invalid(pattern.key, `"${quote(pattern.value)}" is not a regular expression RE2 accepts (${(err as Error).message})`);
      }
    }
    const weightTotalRaw = read.wholeNumber('canary-weight-total', 100, 1);
    const weightTotal = weightTotalRaw > 100 ? weightTotalRaw : 100;
    const weight = read.wholeNumber('canary-weight', 0, 0, weightTotal);
    const rules: CanaryRules = { header, headerValue: header ? headerValue : undefined, headerPattern: header ? headerPattern : undefined, cookie: token(read, 'canary-by-cookie'), weight, weightTotal };
    return { backend: { canary: rules } };
  },
};
