import { ApiException, V1MicroTime, type CoordinationV1Api } from '@kubernetes/client-node';

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * A mutex across replicas on a coordination.k8s.io Lease: acquired if absent, free, or not
 * renewed for its duration; renewed while held; deleted on release. Returns undefined when
 * another replica holds it.
 */
export async function tryLock(api: CoordinationV1Api, namespace: string, name: string, identity: string, durationSeconds: number): Promise<HeldLock | undefined> {
  const now = new V1MicroTime();
  try {
    const lease = await api.readNamespacedLease({ name, namespace });
    const spec = lease.spec ?? {};
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const live = spec.holderIdentity && spec.holderIdentity !== identity && renewed + (spec.leaseDurationSeconds ?? durationSeconds) * 1000 > Date.now();
    if (live) return undefined;
    lease.spec = { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 };
    await api.replaceNamespacedLease({ name, namespace, body: lease });
  } catch (err) {
    if (err instanceof ApiException && err.code === 409) return undefined; // someone else got there first
    if (!(err instanceof ApiException && err.code === 404)) throw err;
    try {
      await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now } } });
    } catch (createErr) {
      if (createErr instanceof ApiException && createErr.code === 409) return undefined;
      throw createErr;
    }
  }
  const renew = setInterval(() => {
    void (async () => {
      const lease = await api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      lease.spec.renewTime = new V1MicroTime();
      if (lease.spec.acquireTime) lease.spec.acquireTime = new V1MicroTime(lease.spec.acquireTime);
      await api.replaceNamespacedLease({ name, namespace, body: lease });
    })().catch(() => { /* the next renewal tries again; expiry hands the lock over */ });
  }, (durationSeconds * 1000) / 3);
  renew.unref();
  return {
    async release() {
      clearInterval(renew);
      await api.deleteNamespacedLease({ name, namespace }).catch(() => {});
    },
  };
}
