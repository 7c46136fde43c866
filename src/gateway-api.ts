import type { V1LabelSelector, V1ObjectMeta } from '@kubernetes/client-node';

/**
 * The Gateway API objects Portico reads (gateway.networking.k8s.io/v1), as plain objects: the
 * fields build uses, typed as the API defines them. The Kubernetes client has no types for them.
 */
export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
/** GatewayClass `spec.controllerName` Portico serves. */
export const GATEWAY_CONTROLLER = 'portico.dev/gateway-controller';

interface GatewayObject<Spec> {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec: Spec;
  /** Written by the controllers that serve the object; Portico reads back only what it wrote. */
  status?: Record<string, unknown>;
}

export type GatewayClass = GatewayObject<{ controllerName: string }>;

export interface SecretObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

export interface Listener {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
  tls?: { mode?: 'Terminate' | 'Passthrough'; certificateRefs?: SecretObjectReference[] };
  allowedRoutes?: {
    namespaces?: { from?: 'All' | 'Same' | 'Selector' | 'None'; selector?: V1LabelSelector };
    kinds?: { group?: string; kind: string }[];
  };
}

export type Gateway = GatewayObject<{ gatewayClassName: string; listeners: Listener[]; addresses?: { type?: string; value?: string }[] }>;

export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface HTTPHeaderMatch {
  type?: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

export interface HTTPRouteMatch {
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: HTTPHeaderMatch[];
  queryParams?: HTTPHeaderMatch[];
  method?: string;
}

export interface HTTPHeaderModifier {
  set?: { name: string; value: string }[];
  add?: { name: string; value: string }[];
  remove?: string[];
}

export interface HTTPPathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface HTTPRouteFilter {
  type: string;
  requestHeaderModifier?: HTTPHeaderModifier;
  responseHeaderModifier?: HTTPHeaderModifier;
  requestRedirect?: { scheme?: 'http' | 'https'; hostname?: string; path?: HTTPPathModifier; port?: number; statusCode?: number };
  urlRewrite?: { hostname?: string; path?: HTTPPathModifier };
  requestMirror?: { backendRef: HTTPBackendRef; percent?: number; fraction?: { numerator: number; denominator?: number } };
  cors?: { allowOrigins?: string[]; allowMethods?: string[]; allowHeaders?: string[]; exposeHeaders?: string[]; allowCredentials?: boolean; maxAge?: number };
}

export interface HTTPBackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  filters?: HTTPRouteFilter[];
}

export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
}

export type HTTPRoute = GatewayObject<{ parentRefs?: ParentReference[]; hostnames?: string[]; rules?: HTTPRouteRule[] }>;

export type ReferenceGrant = GatewayObject<{
  from: { group: string; kind: string; namespace: string }[];
  to: { group: string; kind: string; name?: string }[];
}>;
