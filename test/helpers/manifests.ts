/** Small YAML builders for test manifests: one call per object an operator would write. */

export interface EndpointSpec {
  address: string;
  port: number;
  ready?: boolean;
  name?: string;
}

export function ingress(o: {
  name: string;
  host?: string;
  path?: string;
  pathType?: string;
  service: string;
  port?: number;
  annotations?: Record<string, string>;
  createdAt?: string;
}): string {
  const annotations = Object.entries(o.annotations ?? {}).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join('\n');
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${o.name}
${o.createdAt ? `  creationTimestamp: "${o.createdAt}"\n` : ''}${annotations ? `  annotations:\n${annotations}\n` : ''}spec:
  ingressClassName: portico
  rules:
    - ${o.host ? `host: ${o.host}\n      ` : ''}http:
        paths:
          - path: ${JSON.stringify(o.path ?? '/')}
            pathType: ${o.pathType ?? 'Prefix'}
            backend:
              service:
                name: ${o.service}
                port: {number: ${o.port ?? 80}}
`;
}

/** A Service plus one EndpointSlice listing the given endpoints (standalone mode has no endpoints controller). */
export function service(name: string, endpoints: EndpointSpec[], o: { affinitySeconds?: number } = {}): string {
  const affinity = o.affinitySeconds === undefined ? '' : `  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: ${o.affinitySeconds}}}\n`;
  const byPort = new Map<number, EndpointSpec[]>();
  for (const e of endpoints) byPort.set(e.port, [...(byPort.get(e.port) ?? []), e]);
  const slices = [...byPort].map(([port, eps], i) => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-${i}
  labels: {kubernetes.io/service-name: ${name}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints:
${eps.map((e) => `  - addresses: ["${e.address}"]\n    conditions: {ready: ${e.ready ?? true}}\n    targetRef: {kind: Pod, name: ${e.name ?? `${name}-${e.address}-${e.port}`}}`).join('\n')}
`).join('');
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
${affinity}  ports: [{name: http, port: 80}]
${slices}`;
}

export const INGRESS_CLASS = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: portico}
spec: {controller: portico.dev/ingress-controller}
`;

/** The GatewayClass Portico serves (Gateway API), named portico. */
export const GATEWAY_CLASS = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: portico}
spec: {controllerName: portico.dev/gateway-controller}
`;
