import type { RouteOptions } from '../../table/types.ts';
import type { AnnotationFamily } from './family.ts';
import { quote } from './reader.ts';

/** RFC 1123 labels (underscores tolerated, as ingress-nginx does) with an optional port. */
const HOST_AND_PORT = /^([A-Za-z0-9_](?:[-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?)*)(?::(\d{1,5}))?$/;
const MAX_HOST_LENGTH = 253;

/** `upstream-vhost` (the Host the pod sees) and `backend-protocol` (HTTP or HTTPS to the pod). */
export const upstream: AnnotationFamily = {
  name: 'upstream',
  annotations: ['upstream-vhost', 'backend-protocol'],
  scope: 'route',
  parse(read) {
    let upstreamVhost = read.matching('upstream-vhost', HOST_AND_PORT, 'a host name with an optional port', MAX_HOST_LENGTH + 6);
    if (upstreamVhost !== undefined) {
      const [, host, port] = HOST_AND_PORT.exec(upstreamVhost)!;
      if (host!.length > MAX_HOST_LENGTH || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
        read.invalid(read.get('upstream-vhost')!.key, `"${quote(upstreamVhost)}" is not a host name of at most ${MAX_HOST_LENGTH} characters with a port between 1 and 65535`);
        upstreamVhost = undefined;
      }
    }
    let backendProtocol: RouteOptions['backendProtocol'] = 'HTTP';
    const protocol = read.get('backend-protocol');
    if (protocol) {
      const upper = protocol.value.toUpperCase();
      if (upper === 'HTTP' || upper === 'HTTPS') backendProtocol = upper;
      else read.invalid(protocol.key, `"${quote(protocol.value)}" is not HTTP or HTTPS (GRPC, GRPCS, FCGI and AUTO_HTTP are not supported)`, 'HTTP');
    }
    return { route: { upstreamVhost, backendProtocol } };
  },
  describe: (o) => ({ upstreamVhost: o.upstreamVhost ?? null, backendProtocol: o.backendProtocol }),
};

/** `service-upstream`: the Service's cluster IP instead of its endpoints (kube-proxy balances). */
export const serviceUpstream: AnnotationFamily = {
  name: 'service-upstream',
  annotations: ['service-upstream'],
  scope: 'backend',
  parse: (read) => ({ backend: { serviceUpstream: read.bool('service-upstream', false) } }),
};
