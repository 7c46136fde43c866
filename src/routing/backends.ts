import type { V1EndpointSlice, V1IngressServiceBackend, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { ObjectSnapshot } from '../snapshot.ts';
import { objectKey } from '../snapshot.ts';
import type { Backend, Endpoint } from '../table/types.ts';
import type { Diagnostic, ObjectRef } from '../diagnostics.ts';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const DEFAULT_AFFINITY_SECONDS = 10800; // Kubernetes' default for sessionAffinityConfig.clientIP.timeoutSeconds

/**
 * Resolves Ingress backends to Service ports and their ready endpoints. One instance per
 * build: it indexes the EndpointSlices once and shares a Backend between every route that
 * names the same Service port, so runtime state (round robin, affinity) is per backend.
 */
export class BackendResolver {
  private readonly snapshot: ObjectSnapshot;
  private readonly slicesByService = new Map<string, V1EndpointSlice[]>();
  readonly backends = new Map<string, Backend>();

  constructor(snapshot: ObjectSnapshot) {
    this.snapshot = snapshot;
    for (const slice of snapshot.endpointSlices.values()) {
      const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (!service) continue;
      const key = objectKey(slice.metadata?.namespace, service);
      let list = this.slicesByService.get(key);
      if (!list) this.slicesByService.set(key, (list = []));
      list.push(slice);
    }
  }

  /**
   * Always returns a Backend: a missing Service or port yields one without endpoints
   * (so the route answers 503, as ingress-nginx does) plus a diagnostic.
   */
  resolve(namespace: string, ref: V1IngressServiceBackend, serviceUpstream: boolean, from: ObjectRef, field: string, diagnostics: Diagnostic[]): Backend {
    const portLabel = ref.port?.name ?? String(ref.port?.number ?? '');
    const id = `${namespace}/${ref.name}:${portLabel}${serviceUpstream ? ' (service-upstream)' : ''}`;
    const cached = this.backends.get(id);
    if (cached) return cached;

    const warn = (code: Diagnostic['code'], message: string): void => {
      diagnostics.push({ severity: 'Warning', code, object: from, field, message });
    };
    const backend = (endpoints: Endpoint[], service?: V1Service, unready: Endpoint[] = []): Backend => {
      const b: Backend = {
        id,
        namespace,
        service: ref.name,
        port: portLabel,
        endpoints,
        unready,
        affinityTimeoutMs: service?.spec?.sessionAffinity === 'ClientIP'
          ? (service.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS) * 1000
          : undefined,
      };
      this.backends.set(id, b);
      return b;
    };

    const service = this.snapshot.services.get(objectKey(namespace, ref.name));
    if (!service) {
      warn('ServiceNotFound', `Service ${namespace}/${ref.name} not found; requests get 503 until it exists`);
      return backend([]);
    }
    if (service.spec?.type === 'ExternalName') {
      warn('UnsupportedServiceType', `Service ${namespace}/${ref.name} is of type ExternalName, which Portico does not route to; requests get 503`);
      return backend([], service);
    }
    const servicePort = findServicePort(service, ref);
    if (!servicePort) {
      warn('ServicePortNotFound', `Service ${namespace}/${ref.name} has no port ${portLabel}; requests get 503`);
      return backend([], service);
    }
    if (serviceUpstream) {
      const ip = service.spec?.clusterIP;
      if (ip && ip !== 'None') return backend([{ address: ip, port: servicePort.port, key: `${ip}:${servicePort.port}`, target: `service ${ref.name}` }], service);
      warn('InvalidBackend', `service-upstream needs a cluster IP, but Service ${namespace}/${ref.name} has none; using its endpoints`);
    }
    const { ready, unready } = this.endpointsOf(namespace, ref.name, servicePort);
    return backend(ready, service, unready);
  }

  /** `default-backend` and `--default-backend-service`: the Service's first port, as ingress-nginx takes it. */
  resolveFirstPort(namespace: string, name: string, from: ObjectRef, field: string, diagnostics: Diagnostic[]): Backend {
    const first = this.snapshot.services.get(objectKey(namespace, name))?.spec?.ports?.[0];
    const port = first === undefined ? { number: 0 } : first.name ? { name: first.name } : { number: first.port };
    return this.resolve(namespace, { name, port }, false, from, field, diagnostics);
  }

  /** All slices of the Service merged; the slice port named like the Service port gives the pod port. */
  private endpointsOf(namespace: string, service: string, servicePort: V1ServicePort): { ready: Endpoint[]; unready: Endpoint[] } {
    const wantedName = servicePort.name ?? '';
    const seen = new Set<string>();
    const endpoints: Endpoint[] = [];
    const unready: Endpoint[] = [];
    for (const slice of this.slicesByService.get(objectKey(namespace, service)) ?? []) {
      if (slice.addressType === 'FQDN') continue;
      const port = slice.ports?.find((p) => (p.name ?? '') === wantedName)?.port;
      if (port === undefined) continue;
      for (const ep of slice.endpoints ?? []) {
        // ready unset counts as ready; a terminating endpoint gets no new requests.
        const ready = ep.conditions?.ready !== false && ep.conditions?.terminating !== true;
        for (const address of ep.addresses ?? []) {
          const key = `${address}:${port}`;
          if (seen.has(key)) continue;
          seen.add(key);
          (ready ? endpoints : unready).push({ address, port, key, target: ep.targetRef?.name });
        }
      }
    }
    // Stable order, so round robin and /debug do not reshuffle when slices are re-listed.
    const byAddress = (a: Endpoint, b: Endpoint): number => (a.address === b.address ? a.port - b.port : a.address < b.address ? -1 : 1);
    return { ready: endpoints.sort(byAddress), unready: unready.sort(byAddress) };
  }
}

function findServicePort(service: V1Service, ref: V1IngressServiceBackend): V1ServicePort | undefined {
  const ports = service.spec?.ports ?? [];
  if (ref.port?.name !== undefined) return ports.find((p) => p.name === ref.port!.name);
  if (ref.port?.number !== undefined) return ports.find((p) => p.port === ref.port!.number);
  return ports.length === 1 ? ports[0] : undefined;
}
