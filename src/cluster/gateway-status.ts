import { isIP } from 'node:net';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { GATEWAY_GROUP, type ParentReference } from '../gateway-api.ts';
import type { Logger } from '../log.ts';
import type { Condition, GatewayStatuses } from '../routing/gateway/index.ts';
import type { ObjectSnapshot } from '../snapshot.ts';

interface WrittenCondition extends Condition {
  observedGeneration: number;
  lastTransitionTime: string;
}

type StatusObject = { metadata: { name?: string; namespace?: string; generation?: number }; status?: Record<string, unknown> };

/**
 * Writes what build says of GatewayClasses, Gateways and HTTPRoutes to their status: Accepted,
 * Programmed, per-listener conditions and attached routes, each route parent's Accepted and
 * ResolvedRefs, with observedGeneration. A condition keeps its lastTransitionTime while its
 * status stays; an object whose status already says so is not written (no write loop through
 * the watch). Other controllers' route parents are left as they are. Only the leader writes.
 */
export class GatewayStatusWriter {
  private readonly api: CustomObjectsApi;
  private readonly controllerName: string;
  private readonly addresses: () => readonly string[];
  private readonly log: Logger;
  private running: Promise<void> = Promise.resolve();
  private pending: { status: GatewayStatuses; snapshot: ObjectSnapshot } | undefined;

  constructor(api: CustomObjectsApi, controllerName: string, addresses: () => readonly string[], log: Logger) {
    this.api = api;
    this.controllerName = controllerName;
    this.addresses = addresses;
    this.log = log;
  }

  /** Queues a pass; bursts collapse into one over the latest build. */
  reconcile(status: GatewayStatuses, snapshot: ObjectSnapshot): void {
    const idle = this.pending === undefined;
    this.pending = { status, snapshot };
    if (idle) this.running = this.running.then(() => this.drain());
  }

  async idle(): Promise<void> {
    await this.running;
  }

  private async drain(): Promise<void> {
    const work = this.pending;
    this.pending = undefined;
    if (!work) return;
    const { status, snapshot } = work;
    for (const [name, desired] of status.classes) {
      const current = snapshot.gatewayClasses.get(name);
      if (!current) continue;
      const conditions = written(desired.conditions, desired.generation, current.status?.['conditions']);
      await this.write(current, 'gatewayclasses', { ...current.status, conditions, supportedFeatures: desired.supportedFeatures.map((name) => ({ name })) });
    }
    const shared = [...new Set(this.addresses())].sort().map((value) => ({ type: isIP(value) ? 'IPAddress' : 'Hostname', value }));
    for (const [key, desired] of status.gateways) {
      const addresses = desired.address ? [{ type: 'IPAddress', value: desired.address }] : shared;
      const current = snapshot.gateways.get(key);
      if (!current) continue;
      const before = current.status as { conditions?: unknown; listeners?: { name: string; conditions?: unknown }[] } | undefined;
      const listeners = desired.listeners.map((l) => ({
        name: l.name, attachedRoutes: l.attachedRoutes, supportedKinds: l.supportedKinds,
        conditions: written(l.conditions, desired.generation, before?.listeners?.find((b) => b.name === l.name)?.conditions),
      }));
      await this.write(current, 'gateways', { ...current.status, addresses, conditions: written(desired.conditions, desired.generation, before?.conditions), listeners });
    }
    for (const [key, desired] of status.routes) {
      const current = snapshot.httpRoutes.get(key);
      if (!current) continue;
      const before = (current.status?.['parents'] ?? []) as { parentRef: ParentReference; controllerName: string; conditions?: unknown }[];
      const others = before.filter((p) => p.controllerName !== this.controllerName);
      const ours = desired.parents.map((p) => ({
        parentRef: p.parentRef, controllerName: this.controllerName,
        conditions: written(p.conditions, desired.generation, before.find((b) => b.controllerName === this.controllerName && sameParent(b.parentRef, p.parentRef))?.conditions),
      }));
      await this.write(current, 'httproutes', { ...current.status, parents: [...others, ...ours] });
    }
  }

  /** Replaces the status subresource when it differs from what it should be. */
  private async write(object: StatusObject, plural: string, status: Record<string, unknown>): Promise<void> {
    // The API server hands objects back with their keys sorted: compare without regard to order.
    if (canonical(status) === canonical(object.status ?? {})) return;
    const { name = '', namespace } = object.metadata;
    const body = { ...object, status };
    try {
      if (namespace) await this.api.replaceNamespacedCustomObjectStatus({ group: GATEWAY_GROUP, version: 'v1', namespace, plural, name, body });
      else await this.api.replaceClusterCustomObjectStatus({ group: GATEWAY_GROUP, version: 'v1', plural, name, body });
      this.log.debug({ kind: plural, object: namespace ? `${namespace}/${name}` : name }, 'gateway api status written');
    } catch (err) {
      // A conflict means a newer version is on its way through the watch: the next pass handles it.
      this.log.debug({ kind: plural, object: namespace ? `${namespace}/${name}` : name, err: String(err) }, 'gateway api status update failed');
    }
  }
}

/** Conditions with observedGeneration, keeping each one's lastTransitionTime while its status is unchanged. */
function written(desired: readonly Condition[], generation: number, before: unknown): WrittenCondition[] {
  const previous = Array.isArray(before) ? (before as WrittenCondition[]) : [];
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return desired.map((c) => {
    const was = previous.find((p) => p.type === c.type);
    return { type: c.type, status: c.status, reason: c.reason, message: c.message, observedGeneration: generation, lastTransitionTime: was && was.status === c.status ? was.lastTransitionTime : now };
  });
}

function sameParent(a: ParentReference, b: ParentReference): boolean {
  return a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '') && (a.sectionName ?? '') === (b.sectionName ?? '') && (a.port ?? 0) === (b.port ?? 0);
}

/** JSON with object keys sorted at every level. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v));
}
