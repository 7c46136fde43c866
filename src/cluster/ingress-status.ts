import { isIP } from 'node:net';
import type { NetworkingV1Api, V1Ingress, V1IngressLoadBalancerIngress } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';

/**
 * Writes `status.loadBalancer.ingress` of the Ingresses Portico serves (the address it is
 * reachable on) and clears it from those that stopped being ours. Only the leader writes.
 */
export class IngressStatusWriter {
  private readonly api: NetworkingV1Api;
  private readonly log: Logger;
  private readonly addresses: () => readonly string[];
  private running: Promise<void> = Promise.resolve();
  private pending: { ingresses: V1Ingress[]; ours: (i: V1Ingress) => boolean } | undefined;

  /** `addresses`: where Portico is reachable (IPs or host names), asked at each pass; none: nothing is written. */
  constructor(api: NetworkingV1Api, addresses: () => readonly string[], log: Logger) {
    this.api = api;
    this.addresses = addresses;
    this.log = log;
  }

  /** Queues a reconcile; bursts collapse into one pass over the latest state. */
  reconcile(ingresses: V1Ingress[], ours: (i: V1Ingress) => boolean): void {
    const idle = this.pending === undefined;
    this.pending = { ingresses, ours };
    if (idle) this.running = this.running.then(() => this.drain());
  }

  private async drain(): Promise<void> {
    const work = this.pending;
    this.pending = undefined;
    if (!work) return;
    const addresses = [...new Set(this.addresses())].sort();
    if (addresses.length === 0) return;
    const mine = new Set(addresses);
    const entries: V1IngressLoadBalancerIngress[] = addresses.map((a) => (isIP(a) ? { ip: a } : { hostname: a }));
    const named = (e: V1IngressLoadBalancerIngress): string => e.ip ?? e.hostname ?? '';
    for (const ingress of work.ingresses) {
      const current = ingress.status?.loadBalancer?.ingress ?? [];
      const isOurs = work.ours(ingress);
      const hasOurs = current.some((e) => mine.has(named(e)));
      const same = current.length === entries.length && current.every((e, i) => named(e) === addresses[i]);
      let desired: V1IngressLoadBalancerIngress[] | undefined;
      if (isOurs && !same) desired = entries;
      else if (!isOurs && hasOurs) desired = current.filter((e) => !mine.has(named(e)));
      if (!desired) continue;
      const name = ingress.metadata?.name ?? '';
      const namespace = ingress.metadata?.namespace ?? 'default';
      try {
        await this.api.replaceNamespacedIngressStatus({ name, namespace, body: { ...ingress, status: { loadBalancer: { ingress: desired } } } });
        this.log.info({ ingress: `${namespace}/${name}`, addresses: isOurs ? addresses : null }, isOurs ? 'ingress status set' : 'ingress status cleared');
      } catch (err) {
        // A conflict means a newer version is on its way through the watch: the next pass handles it.
        this.log.debug({ ingress: `${namespace}/${name}`, err: String(err) }, 'ingress status update failed');
      }
    }
  }

  async idle(): Promise<void> {
    await this.running;
  }
}
