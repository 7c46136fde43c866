import type { AnnotationFamily } from './family.ts';
import { quote } from './reader.ts';

const BODY_SIZE = /^(\d+)([kKmMgG]?)$/;
const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Bytes for `N`, `Nk`, `Nm`, `Ng`; Infinity for 0 (unlimited); undefined when malformed or too large to count exactly. */
export function parseBodySize(value: string): number | undefined {
  const m = BODY_SIZE.exec(value.replace(/\s+/g, ''));
  if (!m) return undefined;
  const bytes = Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes)) return undefined;
  return bytes === 0 ? Infinity : bytes;
}

/** `proxy-body-size` (nginx client_max_body_size, default 1m): 413 above it. */
export const body: AnnotationFamily = {
  name: 'body',
  annotations: ['proxy-body-size'],
  scope: 'route',
  parse(read) {
    const a = read.get('proxy-body-size');
    if (!a) return { route: { bodyLimit: DEFAULT_BODY_LIMIT } };
    const parsed = parseBodySize(a.value);
    if (parsed === undefined) read.invalid(a.key, `"${quote(a.value)}" is not a size like 8m, 512k or 0 (unlimited)`, '1m');
    return { route: { bodyLimit: parsed ?? DEFAULT_BODY_LIMIT } };
  },
  describe: (o) => ({ bodyLimit: Number.isFinite(o.bodyLimit) ? o.bodyLimit : 'unlimited' }),
  step: (o) => (Number.isFinite(o.bodyLimit) ? { kind: 'body-limit', bytes: o.bodyLimit } : undefined),
};
