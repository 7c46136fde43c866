import type { AnnotationFamily } from './family.ts';
import { quote } from './reader.ts';

const REF = /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/)?([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;
const NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
const VALUE = /^[\t\x20-\x7e\x80-\xff]{0,4096}$/;
/** Headers that frame the response or belong to a connection: Portico owns them. */
const REFUSED = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'trailer', 'te', 'proxy-connection']);

/**
 * `custom-headers`: a ConfigMap (`name` or `namespace/name`) whose keys and values are headers
 * added to every response of the route, replacing the pod's (ingress-nginx's more_set_headers).
 * Entries that are no valid header, or that would frame the response, are refused one by one.
 */
export const customHeaders: AnnotationFamily = {
  name: 'custom-headers',
  annotations: ['custom-headers'],
  scope: 'route',
  parse(read, context) {
    const a = read.get('custom-headers');
    if (!a) return { route: { customHeaders: undefined } };
    const m = REF.exec(a.value);
    if (!m) {
      read.invalid(a.key, `"${quote(a.value)}" is not a ConfigMap name or namespace/name`);
      return { route: { customHeaders: undefined } };
    }
    const name = `${m[1] ?? context.namespace}/${m[3]}`;
    const configMap = context.snapshot?.configMaps.get(name);
    if (!configMap) {
      read.invalid(a.key, `ConfigMap ${name} not found`);
      return { route: { customHeaders: undefined } };
    }
    const headers: Record<string, string> = {};
    for (const [header, value] of Object.entries(configMap.data ?? {})) {
      if (!NAME.test(header) || !VALUE.test(value) || REFUSED.has(header.toLowerCase())) {
        read.invalid(a.key, `ConfigMap ${name} key "${quote(header)}" is not a header Portico may set`);
        continue;
      }
      headers[header.toLowerCase()] = value;
    }
    return { route: { customHeaders: Object.keys(headers).length > 0 ? { configMap: name, headers } : undefined } };
  },
  describe: (o) => ({ customHeaders: o.customHeaders ?? null }),
  step: (o) => o.customHeaders && { kind: 'custom-headers', headers: o.customHeaders.headers },
};
