import { ApiException, V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  retryPeriodMs: number;
}

/**
 * Leader election on a coordination.k8s.io Lease, as client-go does it: the holder renews
 * every retry period; another replica takes over once the lease has not been renewed for
 * its duration, measured on our own clock from when we last saw it change.
 */
export class LeaderElector {
  leader = false;
  private readonly api: CoordinationV1Api;
  private readonly options: LeaderElectionOptions;
  private readonly log: Logger;
  private readonly onChange: (leader: boolean) => void;
  private observed: { renewTime: string; at: number } | undefined;
  private lastRenewedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(api: CoordinationV1Api, options: LeaderElectionOptions, log: Logger, onChange: (leader: boolean) => void) {
    this.api = api;
    this.options = options;
    this.log = log;
    this.onChange = onChange;
  }

  start(): void {
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leader) return;
    this.set(false);
    // Release, so another replica need not wait for the lease to expire.
    try {
      const lease = await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
      if (lease.spec?.holderIdentity === this.options.identity) {
        lease.spec.holderIdentity = undefined;
        if (lease.spec.acquireTime) lease.spec.acquireTime = new V1MicroTime(lease.spec.acquireTime);
        if (lease.spec.renewTime) lease.spec.renewTime = new V1MicroTime(lease.spec.renewTime);
        await this.api.replaceNamespacedLease({ name: this.options.name, namespace: this.options.namespace, body: lease });
      }
    } catch { /* it expires by itself */ }
  }

  private async tick(): Promise<void> {
    try {
      await this.tryAcquireOrRenew();
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409)) this.log.debug({ err: String(err) }, 'leader election attempt failed');
    }
    // A leader that cannot renew steps down before anyone else may take over.
    if (this.leader && Date.now() - this.lastRenewedAt > this.options.leaseDurationSeconds * 1000 * 0.8) {
      this.log.warn('could not renew the leader lease; stepping down');
      this.set(false);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.options.retryPeriodMs);
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { name, namespace, identity, leaseDurationSeconds } = this.options;
    // Lease times are MicroTime: the API server refuses millisecond timestamps there.
    const now = new V1MicroTime();
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) throw err;
      await this.api.createNamespacedLease({ namespace, body: {
        metadata: { name, namespace },
        spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      } });
      this.renewed();
      return;
    }
    const spec = lease.spec ?? {};
    const renewTime = spec.renewTime ? new Date(spec.renewTime).toISOString() : '';
    if (this.observed?.renewTime !== renewTime) this.observed = { renewTime, at: Date.now() };
    const holder = spec.holderIdentity;
    const expired = Date.now() - this.observed.at > (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (holder && holder !== identity && !expired) {
      this.set(false);
      return;
    }
    lease.spec = {
      ...spec,
      acquireTime: spec.acquireTime ? new V1MicroTime(spec.acquireTime) : now,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: now,
      ...(holder === identity ? {} : { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
    };
    // replace carries the resourceVersion we read: a concurrent writer makes this fail with 409.
    await this.api.replaceNamespacedLease({ name, namespace, body: lease });
    this.renewed();
  }

  private renewed(): void {
    this.lastRenewedAt = Date.now();
    this.set(true);
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.log.info({ lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity }, leader ? 'became leader' : 'not the leader');
    this.onChange(leader);
  }
}
