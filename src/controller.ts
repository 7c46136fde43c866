import { hostname } from 'node:os';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, NetworkingV1Api, type KubernetesListObject, type V1ConfigMap, type V1Ingress } from '@kubernetes/client-node';
import { CHALLENGE_CONFIGMAP, ChallengeStore } from './acme/challenges.ts';
import { ACME_GROUP, ACME_PLURAL, ACME_VERSION, type ACMEIssuerObject } from './acme/issuers.ts';
import { AcmeManager } from './acme/manager.ts';
import { SideWatch } from './sources/side-watch.ts';
import { IngressClassFilter } from './routing/ingress-class.ts';
import { EventRecorder } from './cluster/events.ts';
import { IngressStatusWriter } from './cluster/ingress-status.ts';
import { GatewayStatusWriter } from './cluster/gateway-status.ts';
import { GATEWAY_CONTROLLER } from './gateway-api.ts';
import { LeaderElector } from './cluster/leader-election.ts';
import type { RoutingTable } from './table/types.ts';
import type { Logger } from './log.ts';
import { Runtime, type RuntimeOptions } from './runtime.ts';
import type { ObjectSnapshot } from './snapshot.ts';
import { KubernetesSource } from './sources/kubernetes.ts';
import { AdmissionWebhook, decide, type AdmissionDecision, type WebhookOptions } from './admission/webhook.ts';
import { objectKey } from './snapshot.ts';

export interface ControllerOptions extends RuntimeOptions {
  /** Path of a kubeconfig; undefined: in-cluster config in a pod, else KUBECONFIG or ~/.kube/config. */
  kubeconfig: string | undefined;
  watchNamespace: string | undefined;
  /**
   * `--publish-status-address`: the addresses written to Ingress status. Empty: those of
   * `publishService`, else the InternalIP of the node in NODE_NAME (hostNetwork).
   */
  publishStatusAddresses: readonly string[];
  /** `--publish-service`: `namespace/name` of the Service fronting Portico (its load balancer's addresses). */
  publishService: string | undefined;
  /** `--update-status`: write Ingress status at all. */
  updateStatus: boolean;
  /** `--acme`: watch ACMEIssuers and the shared challenge ConfigMap, and order certificates. */
  acme: boolean;
  electionNamespace: string;
  electionId: string;
  /** `--validating-webhook` and its certificate: the admission webhook, when set. */
  webhook?: WebhookOptions | undefined;
}

/** `portico controller`: the pipeline fed by informers, plus what only the leader writes back. */
export class Controller {
  private readonly runtime: Runtime;
  private readonly source: KubernetesSource;
  private readonly elector: LeaderElector;
  private readonly status: IngressStatusWriter;
  private readonly gatewayStatus: GatewayStatusWriter;
  private readonly events: EventRecorder;
  private readonly core: CoreV1Api;
  private readonly options: ControllerOptions;
  private readonly log: Logger;
  private readonly acme: AcmeManager;
  private readonly issuerWatch: SideWatch<ACMEIssuerObject>;
  private readonly challengeWatch: SideWatch<V1ConfigMap>;
  private issuers: readonly ACMEIssuerObject[] = [];
  private readonly webhook: AdmissionWebhook | undefined;
  private snapshot: ObjectSnapshot | undefined;
  /** The node's InternalIP, once read (the status address without --publish-*). */
  private nodeAddress: string | undefined;

  constructor(options: ControllerOptions, log: Logger) {
    this.options = options;
    this.log = log;
    const kc = new KubeConfig();
    if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
    this.core = kc.makeApiClient(CoreV1Api);
    const identity = `${hostname()}_${process.pid}`;
    const challenges = new ChallengeStore(this.core, options.electionNamespace, log);
    this.runtime = new Runtime(options, log, {
      notReadyReason: () => (this.source.state.synced ? undefined : 'waiting for the first list of every watched kind'),
      detail: () => {
        const failing = [...this.source.state.failing].map(([kind, err]) => `${kind}: ${err}`);
        return failing.length ? `API server unreachable, serving the last known routing table (${failing.join('; ')})` : undefined;
      },
    }, challenges);
    this.source = new KubernetesSource(kc, { watchNamespace: options.watchNamespace, debounceMs: 10 }, (snapshot) => this.apply(snapshot), log);
    this.webhook = options.webhook && new AdmissionWebhook(options.webhook, (ingress) => this.review(ingress), log);
    if (this.runtime.metrics) {
      this.runtime.metrics.informerStates = () => this.source.kinds();
      this.runtime.metrics.leaderElection = () => ({ name: options.electionId, leader: this.elector.leader });
    }
    this.status = new IngressStatusWriter(kc.makeApiClient(NetworkingV1Api), () => this.statusAddresses(), log);
    this.events = new EventRecorder(this.core, log);
    const coordination = kc.makeApiClient(CoordinationV1Api);
    this.elector = new LeaderElector(coordination, {
      namespace: options.electionNamespace,
      name: options.electionId,
      identity,
      leaseDurationSeconds: 15,
      retryPeriodMs: 2000,
    }, log, (leader) => {
      if (!leader) return;
      if (this.snapshot) this.writeBack(this.snapshot);
      this.acme.onLeadership(this.issuers);
    });
    const customObjects = kc.makeApiClient(CustomObjectsApi);
    this.gatewayStatus = new GatewayStatusWriter(customObjects, GATEWAY_CONTROLLER, () => this.statusAddresses(), log);
    this.acme = new AcmeManager({
      core: this.core, coordination, customObjects, challenges, events: this.events,
      namespace: options.electionNamespace, identity, isLeader: () => this.elector.leader, log,
    });
    this.issuerWatch = new SideWatch<ACMEIssuerObject>(kc, 'ACMEIssuer', `/apis/${ACME_GROUP}/${ACME_VERSION}/${ACME_PLURAL}`,
      () => customObjects.listClusterCustomObject({ group: ACME_GROUP, version: ACME_VERSION, plural: ACME_PLURAL }) as Promise<KubernetesListObject<ACMEIssuerObject>>,
      (items) => {
        this.issuers = items;
        this.acme.setIssuers(items);
      }, log);
    this.challengeWatch = new SideWatch<V1ConfigMap>(kc, 'ACME challenges', `/api/v1/namespaces/${options.electionNamespace}/configmaps`,
      () => this.core.listNamespacedConfigMap({ namespace: options.electionNamespace, fieldSelector: `metadata.name=${CHALLENGE_CONFIGMAP}` }),
      (items) => challenges.observe(items[0]), log, `metadata.name=${CHALLENGE_CONFIGMAP}`);
  }

  /** The routing table being served. */
  get current(): RoutingTable | undefined {
    return this.runtime.current;
  }

  private apply(snapshot: ObjectSnapshot): void {
    this.snapshot = snapshot;
    this.runtime.pipeline.apply(snapshot);
    const classes = new IngressClassFilter(snapshot, this.options);
    this.acme.setSnapshot(snapshot, [...snapshot.ingresses.values()].filter((i) => classes.isOurs(i)));
    if (this.elector.leader) this.writeBack(snapshot);
  }

  /** Events for new diagnostics and the Ingress status: the leader's job only. */
  private writeBack(snapshot: ObjectSnapshot): void {
    this.events.record(this.runtime.pipeline.diagnostics, snapshot);
    if (!this.options.updateStatus) return;
    const gatewayStatus = this.runtime.pipeline.gatewayStatus;
    if (gatewayStatus) this.gatewayStatus.reconcile(gatewayStatus, snapshot);
    const classes = new IngressClassFilter(snapshot, this.options);
    this.status.reconcile([...snapshot.ingresses.values()] as V1Ingress[], (i) => classes.isOurs(i));
  }

  /**
   * The admission webhook's verdict on an Ingress about to be stored: the same build, on the
   * objects Portico knows plus this one, and its diagnostics for this Ingress.
   */
  private review(ingress: V1Ingress): AdmissionDecision {
    const snapshot = this.snapshot;
    if (!snapshot) return { allowed: true, warnings: ['Portico has not listed the cluster yet: this Ingress was not checked'] };
    if (!new IngressClassFilter(snapshot, this.options).isOurs(ingress)) return { allowed: true, warnings: [] };
    const namespace = ingress.metadata?.namespace ?? 'default';
    const name = ingress.metadata?.name ?? '';
    // A new Ingress is the newest: a conflict with an older one is its own.
    const incoming: V1Ingress = ingress.metadata?.creationTimestamp ? ingress : { ...ingress, metadata: { ...ingress.metadata, creationTimestamp: new Date() } };
    const ingresses = new Map(snapshot.ingresses).set(objectKey(namespace, name), incoming);
    const diagnostics = this.runtime.pipeline.dryRun({ ...snapshot, ingresses });
    return decide(diagnostics.filter((d) => d.object.kind === 'Ingress' && d.object.namespace === namespace && d.object.name === name));
  }

  /** Where Portico is reachable, for Ingress status (ingress-nginx's order of precedence). */
  private statusAddresses(): readonly string[] {
    if (this.options.publishStatusAddresses.length > 0) return this.options.publishStatusAddresses;
    if (this.options.publishService) {
      const service = this.snapshot?.services.get(this.options.publishService);
      const balancer = (service?.status?.loadBalancer?.ingress ?? []).map((e) => e.ip ?? e.hostname).filter((a): a is string => !!a);
      return [...balancer, ...(service?.spec?.externalIPs ?? [])];
    }
    return this.nodeAddress ? [this.nodeAddress] : [];
  }

  /** The node's InternalIP, when no --publish-* flag says otherwise (hostNetwork: that is where we listen). */
  private async resolveNodeAddress(): Promise<void> {
    if (!this.options.updateStatus || this.options.publishStatusAddresses.length > 0 || this.options.publishService) return;
    const nodeName = process.env['NODE_NAME'];
    if (!nodeName) {
      this.log.warn('none of --publish-status-address, --publish-service and NODE_NAME is set: Ingress status will not be written');
      return;
    }
    for (let delay = 1000; !this.nodeAddress; delay = Math.min(delay * 2, 30_000)) {
      try {
        const node = await this.core.readNode({ name: nodeName });
        this.nodeAddress = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
        if (this.nodeAddress) break;
        this.log.warn({ node: nodeName }, 'node has no InternalIP; Ingress status will not be written');
        return;
      } catch (err) {
        this.log.warn({ node: nodeName, err: String(err) }, 'could not read the node for its address; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    if (this.elector.leader && this.snapshot) this.writeBack(this.snapshot);
  }

  async start(): Promise<{ httpPort: number; httpsPort: number | undefined; adminPort: number }> {
    // Listen first, so probes answer (not ready) while the informers list.
    const ports = await this.runtime.listen();
    if (this.webhook) this.log.info({ port: await this.webhook.listen() }, 'admission webhook listening');
    this.log.info({ ...ports, watchNamespace: this.options.watchNamespace ?? '(all)', ingressClass: this.options.ingressClass }, 'portico controller listening; syncing');
    await this.source.start();
    this.log.info('every watched kind listed; routing table live');
    void this.resolveNodeAddress();
    this.elector.start();
    if (this.options.acme) {
      this.issuerWatch.start();
      this.challengeWatch.start();
      this.acme.start();
    } else {
      // Without the CRD and Secret write access (the chart's default), the watches would only fail.
      this.log.info('ACME off (--acme=false): ACMEIssuers are not watched');
    }
    return ports;
  }

  /** Graceful: see Runtime.shutdown; the watches stop after the data plane drained. */
  async shutdown(delayMs: number, graceMs: number): Promise<void> {
    await this.runtime.shutdown(delayMs, graceMs);
    await this.stopWatching();
  }

  async stop(): Promise<void> {
    await this.stopWatching();
    await this.runtime.close();
  }

  private async stopWatching(): Promise<void> {
    await this.webhook?.close();
    this.acme.stop();
    await this.issuerWatch.stop();
    await this.challengeWatch.stop();
    await this.elector.stop();
    await this.source.stop();
  }
}
