import type { V1EndpointSlice, V1IngressServiceBackend, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { ObjectSnapshot } from '../snapshot.ts';
import { objectKey } from '../snapshot.ts';
import type { Backend, Endpoint } from '../table/types.ts';
import type { Diagnostic, ObjectRef } from '../diagnostics.ts';
import { sameItems } from './build-cache.ts';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const DEFAULT_AFFINITY_SECONDS = 10800; // Kubernetes' default for sessionAffinityConfig.clientIP.timeoutSeconds

/**
 * What one backend id resolved to, kept between builds: reused while the Service and its
 * EndpointSlices are the same objects (a source hands back the same object while it is unchanged).
 */
export interface Resolution {
  readonly service: V1Service | undefined;
  readonly slices: readonly V1EndpointSlice[] | undefined;
  readonly backend: Backend;
  /** Reported for every path that names this backend. */
  readonly warning: { readonly code: Diagnostic['code']; readonly message: string } | undefined;
}

/**
 * Resolves Ingress backends to Service ports and their ready endpoints. One instance per
 * build: it indexes the EndpointSlices once and shares a Backend between every route that
 * names the same Service port, so runtime state (round robin, affinity) is per backend.
 * Given the previous build's resolutions, an unchanged backend is the same object as before.
 */
export class BackendResolver {
  private readonly snapshot: ObjectSnapshot;
  private readonly slicesByService = new Map<string, V1EndpointSlice[]>();
  private readonly previous: ReadonlyMap<string, Resolution> | undefined;
  /** This build's, by backend id: the next build's `previous`. */
  readonly resolutions = new Map<string, Resolution>();
  readonly backends = new Map<string, Backend>();

  constructor(snapshot: ObjectSnapshot, previous?: ReadonlyMap<string, Resolution>) {
    this.snapshot = snapshot;
    this.previous = previous;
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
    let resolution = this.resolutions.get(id);
    if (!resolution) {
      const key = objectKey(namespace, ref.name);
      const service = this.snapshot.services.get(key);
      const slices = this.slicesByService.get(key);
      const previous = this.previous?.get(id);
      resolution = previous && previous.service === service && sameItems(previous.slices, slices) ? previous : this.compute(id, namespace, ref, portLabel, serviceUpstream, service, slices);
      this.keep(id, resolution);
    }
    if (resolution.warning) diagnostics.push({ severity: 'Warning', code: resolution.warning.code, object: from, field, message: resolution.warning.message });
    return resolution.backend;
  }

  /** Whether `backend`, from an earlier build, is what this build resolves its id to (its Service and slices unchanged). */
  isCurrent(backend: Backend): boolean {
    const now = this.resolutions.get(backend.id);
    if (now) return now.backend === backend;
    const previous = this.previous?.get(backend.id);
    if (previous?.backend !== backend) return false;
    const key = objectKey(backend.namespace, backend.service);
    if (previous.service !== this.snapshot.services.get(key) || !sameItems(previous.slices, this.slicesByService.get(key))) return false;
    this.keep(backend.id, previous);
    return true;
  }

  private keep(id: string, resolution: Resolution): void {
    this.resolutions.set(id, resolution);
    this.backends.set(id, resolution.backend);
  }

  private compute(id: string, namespace: string, ref: V1IngressServiceBackend, portLabel: string, serviceUpstream: boolean, service: V1Service | undefined, slices: readonly V1EndpointSlice[] | undefined): Resolution {
    const resolution = (endpoints: Endpoint[], warning?: Resolution['warning'], unready: Endpoint[] = []): Resolution => ({
      service,
      slices,
      warning,
      backend: {
        id,
        namespace,
        service: ref.name,
        port: portLabel,
        endpoints,
        unready,
        affinityTimeoutMs: service?.spec?.sessionAffinity === 'ClientIP'
          ? (service.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS) * 1000
          : undefined,
      },
    });
    if (!service) return resolution([], { code: 'ServiceNotFound', message: `Service ${namespace}/${ref.name} not found; requests get 503 until it exists` });
    if (service.spec?.type === 'ExternalName') {
      return resolution([], { code: 'UnsupportedServiceType', message: `Service ${namespace}/${ref.name} is of type ExternalName, which Portico does not route to; requests get 503` });
    }
    const servicePort = findServicePort(service, ref);
    if (!servicePort) return resolution([], { code: 'ServicePortNotFound', message: `Service ${namespace}/${ref.name} has no port ${portLabel}; requests get 503` });
    let warning: Resolution['warning'];
    if (serviceUpstream) {
      const ip = service.spec?.clusterIP;
      if (ip && ip !== 'None') return resolution([{ address: ip, port: servicePort.port, key: `${ip}:${servicePort.port}`, target: `service ${ref.name}` }]);
      warning = { code: 'InvalidBackend', message: `service-upstream needs a cluster IP, but Service ${namespace}/${ref.name} has none; using its endpoints` };
    }
    const { ready, unready } = endpointsOf(slices ?? [], servicePort);
    return resolution(ready, warning, unready);
  }

  /** `default-backend` and `--default-backend-service`: the Service's first port, as ingress-nginx takes it. */
  resolveFirstPort(namespace: string, name: string, from: ObjectRef, field: string, diagnostics: Diagnostic[]): Backend {
    const first = this.snapshot.services.get(objectKey(namespace, name))?.spec?.ports?.[0];
    const port = first === undefined ? { number: 0 } : first.name ? { name: first.name } : { number: first.port };
    return this.resolve(namespace, { name, port }, false, from, field, diagnostics);
  }
}

/** All slices of the Service merged; the slice port named like the Service port gives the pod port. */
function endpointsOf(slices: readonly V1EndpointSlice[], servicePort: V1ServicePort): { ready: Endpoint[]; unready: Endpoint[] } {
  const wantedName = servicePort.name ?? '';
  const seen = new Set<string>();
  const endpoints: Endpoint[] = [];
  const unready: Endpoint[] = [];
  for (const slice of slices) {
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

function findServicePort(service: V1Service, ref: V1IngressServiceBackend): V1ServicePort | undefined {
  const ports = service.spec?.ports ?? [];
  if (ref.port?.name !== undefined) return ports.find((p) => p.name === ref.port!.name);
  if (ref.port?.number !== undefined) return ports.find((p) => p.port === ref.port!.number);
  return ports.length === 1 ? ports[0] : undefined;
}
