import type {
  V1ConfigMap,
  V1EndpointSlice,
  V1Ingress,
  V1IngressClass,
  V1Namespace,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import type { Gateway, GatewayClass, HTTPRoute, ReferenceGrant } from './gateway-api.ts';

/**
 * Everything build needs, as plain Kubernetes objects. A source (informers or a
 * manifest directory) produces a new snapshot on every change; build never mutates it.
 * Namespaced maps are keyed `namespace/name`, IngressClasses by name.
 */
export interface ObjectSnapshot {
  readonly ingressClasses: ReadonlyMap<string, V1IngressClass>;
  readonly ingresses: ReadonlyMap<string, V1Ingress>;
  readonly services: ReadonlyMap<string, V1Service>;
  readonly endpointSlices: ReadonlyMap<string, V1EndpointSlice>;
  readonly secrets: ReadonlyMap<string, V1Secret>;
  /** Referenced by annotations (`custom-headers`). */
  readonly configMaps: ReadonlyMap<string, V1ConfigMap>;
  /** Gateway API: classes by name, the rest by `namespace/name`. */
  readonly gatewayClasses: ReadonlyMap<string, GatewayClass>;
  readonly gateways: ReadonlyMap<string, Gateway>;
  readonly httpRoutes: ReadonlyMap<string, HTTPRoute>;
  readonly referenceGrants: ReadonlyMap<string, ReferenceGrant>;
  /** By name: their labels, for listeners that admit routes by namespace selector. */
  readonly namespaces: ReadonlyMap<string, V1Namespace>;
}

export type SnapshotKind = 'IngressClass' | 'Ingress' | 'Service' | 'EndpointSlice' | 'Secret' | 'ConfigMap' | 'GatewayClass' | 'Gateway' | 'HTTPRoute' | 'ReferenceGrant' | 'Namespace';

export const SNAPSHOT_KINDS: readonly SnapshotKind[] = ['IngressClass', 'Ingress', 'Service', 'EndpointSlice', 'Secret', 'ConfigMap', 'GatewayClass', 'Gateway', 'HTTPRoute', 'ReferenceGrant', 'Namespace'];

export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
