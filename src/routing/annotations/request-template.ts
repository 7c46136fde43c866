import type { RequestTemplate, TemplatePart } from '../../table/types.ts';

const VARIABLE = /\$(\{[a-z_0-9]+\}|[a-z_0-9]+)/g;
const PLAIN: Record<string, TemplatePart> = {
  remote_addr: { kind: 'remote_addr' }, binary_remote_addr: { kind: 'remote_addr' }, request_uri: { kind: 'request_uri' },
  escaped_request_uri: { kind: 'escaped_request_uri' }, uri: { kind: 'uri' }, document_uri: { kind: 'uri' }, host: { kind: 'host' },
  http_host: { kind: 'host' }, best_http_host: { kind: 'host' }, scheme: { kind: 'scheme' }, pass_access_scheme: { kind: 'scheme' },
  args: { kind: 'args' }, query_string: { kind: 'args' }, remote_user: { kind: 'remote_user' },
};

/** The variables a template may use, for messages. */
export const TEMPLATE_VARIABLES = '$remote_addr, $request_uri, $escaped_request_uri, $uri, $host, $scheme, $args, $remote_user, $http_NAME, $cookie_NAME, $arg_NAME';

/**
 * nginx's `$variable` text parsed into typed parts; a string naming the first variable Portico
 * cannot read (it is then not used at all: a half-evaluated key or URL would be wrong).
 */
export function parseRequestTemplate(source: string): RequestTemplate | string {
  const parts: TemplatePart[] = [];
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
  return { source, parts };
}
