import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  ListWatch,
  NetworkingV1Api,
  Watch,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import { objectKey, type ObjectSnapshot } from '../snapshot.ts';
import { GATEWAY_GROUP } from '../gateway-api.ts';

export interface KubernetesSourceOptions {
  /** Limit namespaced kinds to one namespace; IngressClasses are cluster-scoped and always watched. */
  watchNamespace: string | undefined;
  /** How long to gather a burst of watch events before building (the first snapshot is never delayed). */
  debounceMs: number;
}

/** What /readyz and the logs say about the connection to the API server. */
export interface SourceState {
  synced: boolean;
  /** Informers currently failing to list or watch, with the last error. */
  failing: ReadonlyMap<string, string>;
}

interface Watched {
  name: string;
  informer: ListWatch<KubernetesObject>;
  /** A kind Portico can do without (the Gateway API's, whose CRDs may not be installed; Namespaces): while it cannot be listed, it counts as listed and empty. */
  optional: boolean;
  synced: boolean;
  /** Set by an error since the last (re)start. */
  errored: boolean;
  restartPending: boolean;
  retryMs: number;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;
/** How often a kind whose CRD is missing is looked for again. */
const MISSING_KIND_RETRY_MS = 30_000;

/**
 * The cluster source: one list+watch per kind, feeding snapshots. A watch that expires
 * (410) re-lists by itself; one that breaks is restarted with back-off, and meanwhile the
 * last snapshot (and so the last table) stays in service.
 */
export class KubernetesSource {
  readonly state: SourceState;
  private readonly watched: Watched[];
  private readonly failing = new Map<string, string>();
  private readonly onChange: (snapshot: ObjectSnapshot) => void;
  private readonly log: Logger;
  private readonly options: KubernetesSourceOptions;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private firstDelivered = false;
  private resolveSynced: (() => void) | undefined;

  constructor(kc: KubeConfig, options: KubernetesSourceOptions, onChange: (snapshot: ObjectSnapshot) => void, log: Logger) {
    this.options = options;
    this.onChange = onChange;
    this.log = log;
    const ns = options.watchNamespace;
    const core = kc.makeApiClient(CoreV1Api);
    const networking = kc.makeApiClient(NetworkingV1Api);
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const watch = new Watch(kc);
    const scoped = (group: string, resource: string): string => (ns ? `${group}/namespaces/${ns}/${resource}` : `${group}/${resource}`);
    const tls = 'type=kubernetes.io/tls';
    const opaque = 'type=Opaque';
    const lists: [string, string, () => Promise<KubernetesListObject<KubernetesObject>>, string?][] = [
      ['IngressClass', '/apis/networking.k8s.io/v1/ingressclasses', () => networking.listIngressClass()],
      ['Ingress', scoped('/apis/networking.k8s.io/v1', 'ingresses'), () => (ns ? networking.listNamespacedIngress({ namespace: ns }) : networking.listIngressForAllNamespaces())],
      ['Service', scoped('/api/v1', 'services'), () => (ns ? core.listNamespacedService({ namespace: ns }) : core.listServiceForAllNamespaces())],
      ['EndpointSlice', scoped('/apis/discovery.k8s.io/v1', 'endpointslices'), () => (ns ? discovery.listNamespacedEndpointSlice({ namespace: ns }) : discovery.listEndpointSliceForAllNamespaces())],
      // TLS Secrets (certificates) and Opaque ones (htpasswd files for basic auth); never
      // service-account tokens, Helm releases or other kinds Portico has no business reading.
      ['Secret', scoped('/api/v1', 'secrets'), () => (ns ? core.listNamespacedSecret({ namespace: ns, fieldSelector: tls }) : core.listSecretForAllNamespaces({ fieldSelector: tls })), tls],
      ['Opaque Secret', scoped('/api/v1', 'secrets'), () => (ns ? core.listNamespacedSecret({ namespace: ns, fieldSelector: opaque }) : core.listSecretForAllNamespaces({ fieldSelector: opaque })), opaque],
      ['ConfigMap', scoped('/api/v1', 'configmaps'), () => (ns ? core.listNamespacedConfigMap({ namespace: ns }) : core.listConfigMapForAllNamespaces())],
      // Their labels: Gateway listeners may admit routes by namespace selector.
      ['Namespace', '/api/v1/namespaces', () => core.listNamespace()],
    ];
    // Gateway API: optional, since many clusters have no Gateway API CRDs.
    const custom = kc.makeApiClient(CustomObjectsApi);
    const gatewayKinds: [string, string, boolean][] = [['GatewayClass', 'gatewayclasses', false], ['Gateway', 'gateways', true], ['HTTPRoute', 'httproutes', true], ['ReferenceGrant', 'referencegrants', true]];
    for (const [name, plural, namespaced] of gatewayKinds) {
      const group = `/apis/${GATEWAY_GROUP}/v1`;
      lists.push([name, namespaced ? scoped(group, plural) : `${group}/${plural}`, () => (namespaced && ns
        ? custom.listNamespacedCustomObject({ group: GATEWAY_GROUP, version: 'v1', namespace: ns, plural })
        : custom.listClusterCustomObject({ group: GATEWAY_GROUP, version: 'v1', plural })) as Promise<KubernetesListObject<KubernetesObject>>]);
    }
    // Namespaces are read only for Gateway listeners' selectors: an older RBAC without them must not hold readiness either.
    const optional = new Set([...gatewayKinds.map(([name]) => name), 'Namespace']);
    this.watched = lists.map(([name, path, list, fieldSelector]) => {
      const informer = new ListWatch<KubernetesObject>(path, watch, list, false, undefined, fieldSelector);
      const w: Watched = { name, informer, optional: optional.has(name), synced: false, errored: false, restartPending: false, retryMs: RETRY_MIN_MS };
      informer.on('add', () => this.changed());
      informer.on('update', () => this.changed());
      informer.on('delete', () => this.changed());
      informer.on('error', (err: unknown) => this.failed(w, err));
      return w;
    });
    const failing = this.failing;
    const watched = this.watched;
    this.state = {
      get synced() { return watched.every((w) => w.synced); },
      failing,
    };
  }

  /** Each kind: listed and watching (true) or failing (false). */
  kinds(): [string, boolean][] {
    return this.watched.map((w) => [w.name, w.synced && !this.failing.has(w.name)]);
  }

  /** Resolves once every kind has been listed and the first snapshot was delivered. */
  async start(): Promise<void> {
    const synced = new Promise<void>((resolve) => (this.resolveSynced = resolve));
    await Promise.all(this.watched.map((w) => this.run(w)));
    await synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.all(this.watched.map((w) => w.informer.stop()));
  }

  private async run(w: Watched): Promise<void> {
    if (this.stopped) return;
    w.errored = false;
    try {
      await w.informer.start();
    } catch (err) {
      this.failed(w, err);
    }
    if (w.errored) return; // failed() scheduled the next try
    w.retryMs = RETRY_MIN_MS;
    if (this.failing.delete(w.name)) this.log.info({ kind: w.name }, 'watch re-established; catching up');
    if (!w.synced) {
      w.synced = true;
      this.changed();
    }
  }

  /** A list or watch failed (the informer then stops): try again with back-off; the last table keeps serving. */
  private failed(w: Watched, err: unknown): void {
    w.errored = true;
    const status = w.optional ? unavailableStatus(err) : undefined;
    if (status !== undefined) {
      // The CRD is not installed, or Portico may not read it: nothing of this kind to serve, and
      // no reason to hold readiness for it.
      if (!w.synced) {
        if (status === 404) this.log.info({ kind: w.name }, 'the API server does not serve this kind (CRD not installed); looking again every 30 s');
        else this.log.warn({ kind: w.name }, 'not allowed to list this kind (RBAC); its objects are not served; trying again every 30 s');
      }
      if (this.failing.delete(w.name) || !w.synced) {
        w.synced = true;
        this.changed();
      }
      if (!w.restartPending && !this.stopped) {
        w.restartPending = true;
        setTimeout(() => {
          w.restartPending = false;
          void this.run(w);
        }, MISSING_KIND_RETRY_MS).unref();
      }
      return;
    }
    const message = describeError(err);
    if (!this.failing.has(w.name)) this.log.warn({ kind: w.name, err: message }, 'watch failed; serving the last known routing table until the API server answers');
    this.failing.set(w.name, message);
    if (w.restartPending || this.stopped) return;
    w.restartPending = true;
    setTimeout(() => {
      w.restartPending = false;
      void this.run(w);
    }, w.retryMs).unref();
    w.retryMs = Math.min(w.retryMs * 2, RETRY_MAX_MS);
  }

  private changed(): void {
    if (!this.state.synced) return; // the first snapshot waits until every kind is listed
    if (!this.firstDelivered) {
      this.firstDelivered = true;
      this.deliver();
      this.resolveSynced?.();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.deliver();
    }, this.options.debounceMs);
  }

  private deliver(): void {
    const byName = new Map(this.watched.map((w) => [w.name, keyed(w.informer.list())]));
    this.onChange({
      ingressClasses: byName.get('IngressClass')!,
      ingresses: byName.get('Ingress')!,
      services: byName.get('Service')!,
      endpointSlices: byName.get('EndpointSlice')!,
      secrets: new Map([...byName.get('Secret')!, ...byName.get('Opaque Secret')!]),
      configMaps: byName.get('ConfigMap')!,
      gatewayClasses: byName.get('GatewayClass')!,
      gateways: byName.get('Gateway')!,
      httpRoutes: byName.get('HTTPRoute')!,
      referenceGrants: byName.get('ReferenceGrant')!,
      namespaces: byName.get('Namespace')!,
    } as unknown as ObjectSnapshot);
  }
}

function keyed(objects: readonly KubernetesObject[]): Map<string, KubernetesObject> {
  return new Map(objects.map((o) => [objectKey(o.metadata?.namespace, o.metadata?.name ?? ''), o]));
}

/** 404 (the API server does not know the resource: its CRD is not installed) or 403 (RBAC), else undefined. */
function unavailableStatus(err: unknown): 404 | 403 | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown } | undefined;
  const code = err instanceof ApiException ? err.code : e?.code ?? e?.statusCode;
  if (code === 404 || code === 403) return code;
  const found = /\b(404|403)\b/.exec(String(e?.message ?? ''));
  return found ? (Number(found[1]) as 404 | 403) : undefined;
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; message?: unknown; statusCode?: unknown };
    return `${e.code ?? e.statusCode ?? ''} ${e.message ?? JSON.stringify(err)}`.trim();
  }
  return String(err);
}
