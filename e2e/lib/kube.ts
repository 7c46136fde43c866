import { run } from './exec.ts';

/** kubectl and curl exactly as an operator types them. */
export class Operator {
  private readonly kubeconfig: string;

  constructor(kubeconfig: string) {
    this.kubeconfig = kubeconfig;
  }

  kubectl(...args: string[]): Promise<string> {
    return run('kubectl', ['--kubeconfig', this.kubeconfig, ...args]);
  }

  apply(yaml: string, ...args: string[]): Promise<string> {
    return run('kubectl', ['--kubeconfig', this.kubeconfig, 'apply', '-f', '-', ...args], { input: yaml });
  }

  /** `curl -H 'Host: …' http://127.0.0.1:<port><path>`: status and body. */
  async curl(port: number, host: string, path = '/', ...extra: string[]): Promise<{ status: number; body: string }> {
    const out = await run('curl', ['-sS', '-m', '10', '-H', `Host: ${host}`, '-w', '\n%{http_code}', ...extra, `http://127.0.0.1:${port}${path}`]);
    const cut = out.lastIndexOf('\n');
    return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
  }

  /** `curl -sS -D - -o /dev/null`: the response head only. */
  curlHeaders(port: number, host: string, path = '/', ...extra: string[]): Promise<string> {
    return run('curl', ['-sS', '-m', '10', '-H', `Host: ${host}`, '-D', '-', '-o', '/dev/null', ...extra, `http://127.0.0.1:${port}${path}`]);
  }
}

export interface Endpoint {
  ip: string;
  port: number;
  name: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

/** A selector-less Service and its EndpointSlice: there is no endpoints controller in the test cluster. */
export function serviceWithEndpoints(namespace: string, name: string, endpoints: Endpoint[], portName = 'http'): string {
  const eps = endpoints.map((e) => `  - addresses: ["${e.ip}"]
    conditions: {ready: ${e.ready ?? true}, serving: ${e.serving ?? e.ready ?? true}, terminating: ${e.terminating ?? false}}
    targetRef: {kind: Pod, name: ${e.name}, namespace: ${namespace}}`).join('\n');
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  ports: [{name: ${portName}, port: 80, targetPort: ${endpoints[0]?.port ?? 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  namespace: ${namespace}
  labels: {kubernetes.io/service-name: ${name}, endpointslice.kubernetes.io/managed-by: portico-e2e}
addressType: IPv4
ports: [{name: ${portName}, port: ${endpoints[0]?.port ?? 8080}, protocol: TCP}]
endpoints:${eps ? `\n${eps}` : ' []'}
`;
}

export function namespace(name: string): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n`;
}

export function ingress(ns: string, name: string, host: string, service: string, o: { path?: string; pathType?: string; annotations?: Record<string, string>; className?: string; tls?: { hosts: string[]; secretName: string } } = {}): string {
  const annotations = Object.entries(o.annotations ?? {}).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join('\n');
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: ${ns}
${annotations ? `  annotations:\n${annotations}\n` : ''}spec:
  ingressClassName: ${o.className ?? 'portico'}
${o.tls ? `  tls: [{hosts: ${JSON.stringify(o.tls.hosts)}, secretName: ${o.tls.secretName}}]\n` : ''}  rules:
    - host: "${host}"
      http:
        paths:
          - path: ${JSON.stringify(o.path ?? '/')}
            pathType: ${o.pathType ?? 'Prefix'}
            backend:
              service:
                name: ${service}
                port: {name: http}
`;
}
