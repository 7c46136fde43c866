/**
 * Shape checks for objects read from manifests: build trusts the shapes the API server
 * guarantees, so a hand-written manifest must be held to them before it gets in.
 * Returns the first problem as `{ field, message }`, or undefined when the object is usable.
 */
export interface ShapeProblem {
  field: string;
  message: string;
}

type Check = (value: unknown, field: string) => ShapeProblem | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const optional = (type: 'string' | 'number' | 'boolean'): Check => (v, field) =>
  v === undefined || v === null || typeof v === type ? undefined : { field, message: `must be a ${type}` };

const required = (type: 'string' | 'number'): Check => (v, field) =>
  typeof v === type && v !== '' ? undefined : { field, message: `is required and must be a ${type}` };

const object = (fields: Record<string, Check>, isRequired = false): Check => (v, field) => {
  if (v === undefined || v === null) return isRequired ? { field, message: 'is required' } : undefined;
  if (!isObject(v)) return { field, message: 'must be an object' };
  for (const [name, check] of Object.entries(fields)) {
    const problem = check(v[name], field ? `${field}.${name}` : name);
    if (problem) return problem;
  }
  return undefined;
};

const array = (item: Check): Check => (v, field) => {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return { field, message: 'must be a list' };
  for (let i = 0; i < v.length; i++) {
    const problem = item(v[i], `${field}[${i}]`);
    if (problem) return problem;
  }
  return undefined;
};

const stringMap: Check = (v, field) => {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return { field, message: 'must be a map of strings' };
  for (const [k, value] of Object.entries(v)) {
    if (typeof value !== 'string') return { field: `${field}[${k}]`, message: 'must be a string (quote numbers and booleans)' };
  }
  return undefined;
};

const metadata = object({ name: required('string'), namespace: optional('string'), annotations: stringMap, labels: stringMap }, true);

const serviceBackend = object({
  name: required('string'),
  port: object({ number: optional('number'), name: optional('string') }),
});
const ingressBackend = object({ service: serviceBackend });

/** Gateway API: what the CRDs' schemas guarantee in a cluster, for the fields build reads. */
const nameValue = array(object({ name: required('string'), value: required('string') }));
const headerModifier = object({ set: nameValue, add: nameValue, remove: array(required('string')) });
const pathModifier = object({ type: required('string'), replaceFullPath: optional('string'), replacePrefixMatch: optional('string') });
const routeFilter = object({
  type: required('string'),
  requestHeaderModifier: headerModifier,
  responseHeaderModifier: headerModifier,
  requestRedirect: object({ scheme: optional('string'), hostname: optional('string'), path: pathModifier, port: optional('number'), statusCode: optional('number') }),
  urlRewrite: object({ hostname: optional('string'), path: pathModifier }),
});
const headerMatch = array(object({ type: optional('string'), name: required('string'), value: required('string') }));
const reference = object({ group: optional('string'), kind: optional('string'), name: required('string'), namespace: optional('string') });

const SCHEMAS: Record<string, Check> = {
  Namespace: object({ metadata }),
  GatewayClass: object({ metadata, spec: object({ controllerName: required('string') }, true) }),
  Gateway: object({
    metadata,
    spec: object({
      gatewayClassName: required('string'),
      listeners: array(object({
        name: required('string'), hostname: optional('string'), port: required('number'), protocol: required('string'),
        tls: object({ mode: optional('string'), certificateRefs: array(reference) }),
        allowedRoutes: object({ namespaces: object({ from: optional('string') }), kinds: array(object({ group: optional('string'), kind: required('string') })) }),
      })),
    }, true),
  }),
  HTTPRoute: object({
    metadata,
    spec: object({
      parentRefs: array(object({ group: optional('string'), kind: optional('string'), namespace: optional('string'), name: required('string'), sectionName: optional('string'), port: optional('number') })),
      hostnames: array(required('string')),
      rules: array(object({
        name: optional('string'),
        matches: array(object({ path: object({ type: optional('string'), value: optional('string') }), headers: headerMatch, queryParams: headerMatch, method: optional('string') })),
        filters: array(routeFilter),
        backendRefs: array(object({ group: optional('string'), kind: optional('string'), name: required('string'), namespace: optional('string'), port: optional('number'), weight: optional('number'), filters: array(routeFilter) })),
        timeouts: object({ request: optional('string'), backendRequest: optional('string') }),
      })),
    }),
  }),
  ReferenceGrant: object({
    metadata,
    spec: object({
      from: array(object({ group: optional('string'), kind: required('string'), namespace: required('string') })),
      to: array(object({ group: optional('string'), kind: required('string'), name: optional('string') })),
    }, true),
  }),
  IngressClass: object({ metadata, spec: object({ controller: optional('string') }) }),
  Ingress: object({
    metadata,
    spec: object({
      ingressClassName: optional('string'),
      defaultBackend: ingressBackend,
      rules: array(object({
        host: optional('string'),
        http: object({ paths: array(object({ path: optional('string'), pathType: optional('string'), backend: object({ service: serviceBackend }, true) })) }),
      })),
      tls: array(object({ hosts: array(optional('string')), secretName: optional('string') })),
    }),
  }),
  Service: object({
    metadata,
    spec: object({
      type: optional('string'),
      clusterIP: optional('string'),
      sessionAffinity: optional('string'),
      ports: array(object({ name: optional('string'), port: required('number'), protocol: optional('string') })),
    }),
  }),
  EndpointSlice: object({
    metadata,
    addressType: optional('string'),
    ports: array(object({ name: optional('string'), port: optional('number') })),
    endpoints: array(object({
      addresses: array(required('string')),
      conditions: object({ ready: optional('boolean'), serving: optional('boolean'), terminating: optional('boolean') }),
    })),
  }),
  Secret: object({ metadata, type: optional('string'), data: stringMap, stringData: stringMap }),
  ConfigMap: object({ metadata, data: stringMap }),
};

export function checkShape(kind: string, obj: unknown): ShapeProblem | undefined {
  const schema = SCHEMAS[kind];
  return schema ? schema(obj, '') : undefined;
}
