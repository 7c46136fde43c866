import type { HashKeyPart } from '../../table/types.ts';
import type { AnnotationFamily } from './family.ts';
import { quote } from './reader.ts';

const VARIABLE = /\$(\{[a-z_0-9]+\}|[a-z_0-9]+)/g;
const PLAIN: Record<string, HashKeyPart> = {
  remote_addr: { kind: 'remote_addr' }, binary_remote_addr: { kind: 'remote_addr' }, request_uri: { kind: 'request_uri' },
  uri: { kind: 'uri' }, document_uri: { kind: 'uri' }, host: { kind: 'host' }, http_host: { kind: 'host' }, scheme: { kind: 'scheme' }, args: { kind: 'args' },
  query_string: { kind: 'args' },
};

/** nginx's `$variable` forms of an upstream-hash-by key into typed parts; undefined names the variable it cannot read. */
export function parseHashKey(source: string): HashKeyPart[] | string {
  const parts: HashKeyPart[] = [];
  let last = 0;
  for (const m of source.matchAll(VARIABLE)) {
    if (m.index > last) parts.push({ kind: 'text', text: source.slice(last, m.index) });
    const name = m[1]!.replace(/[{}]/g, '');
    const plain = PLAIN[name];
    if (plain) parts.push(plain);
    else if (name.startsWith('http_') && name.length > 5) parts.push({ kind: 'header', name: name.slice(5).replaceAll('_', '-') });
    else if (name.startsWith('cookie_') && name.length > 7) parts.push({ kind: 'cookie', name: name.slice(7) });
    else if (name.startsWith('arg_') && name.length > 4) parts.push({ kind: 'arg', name: name.slice(4) });
    else return `$${name}`;
    last = m.index + m[0].length;
  }
  if (last < source.length) parts.push({ kind: 'text', text: source.slice(last) });
  return parts;
}

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
      const parts = a.value.length > 256 ? 'a key longer than 256 characters' : parseHashKey(a.value);
      if (typeof parts === 'string') read.invalid(a.key, `"${quote(a.value)}": ${parts.startsWith('$') ? `the variable ${parts} is not one Portico can hash ($remote_addr, $request_uri, $uri, $host, $scheme, $args, $http_NAME, $cookie_NAME, $arg_NAME)` : parts}`);
      else if (parts.length > 0) upstreamHash = { source: a.value, parts };
    }
    return { route: { upstreamHash, loadBalance: read.oneOf('load-balance', ['round_robin', 'ewma'] as const, 'round_robin') } };
  },
  describe: (o) => ({ upstreamHash: o.upstreamHash?.source ?? null, loadBalance: o.loadBalance }),
};
