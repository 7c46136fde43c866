import type { Backend, Endpoint } from '../table/types.ts';
import { EndpointHealth } from './endpoint-health.ts';

interface Pin {
  endpoint: string;
  expiresAt: number;
}

const SWEEP_EVERY = 1024;

/**
 * Picks endpoints: round robin per backend, and ClientIP session affinity where the
 * Service asks for it (kube-proxy would do that, but Portico bypasses kube-proxy).
 * State is keyed by backend id and endpoint address, so it survives table swaps.
 */
export class Balancer {
  private readonly next = new Map<string, number>();
  private readonly pins = new Map<string, Map<string, Pin>>();
  private picks = 0;
  private readonly now: () => number;
  readonly health: EndpointHealth;

  constructor(now: () => number = Date.now, health = new EndpointHealth(now)) {
    this.now = now;
    this.health = health;
  }

  /** An endpoint of the backend not in `exclude`, or undefined when none is left. */
  pick(backend: Backend, clientAddress: string, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    const endpoints = backend.endpoints;
    if (endpoints.length === 0) return undefined;
    if (backend.affinityTimeoutMs !== undefined) return this.pickPinned(backend, clientAddress, exclude);
    return this.pickRoundRobin(backend, exclude);
  }

  private pickRoundRobin(backend: Backend, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    const endpoints = backend.endpoints;
    const start = this.next.get(backend.id) ?? 0;
    let ejected = -1; // the first candidate out of rotation: used only if every candidate is
    for (let i = 0; i < endpoints.length; i++) {
      const index = (start + i) % endpoints.length;
      const endpoint = endpoints[index]!;
      if (exclude?.has(endpoint)) continue;
      if (this.health.isEjected(endpoint.key)) {
        if (ejected === -1) ejected = index;
        continue;
      }
      this.next.set(backend.id, index + 1);
      return endpoint;
    }
    if (ejected === -1) return undefined;
    this.next.set(backend.id, ejected + 1);
    return endpoints[ejected];
  }

  private pickPinned(backend: Backend, clientAddress: string, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    const now = this.now();
    let pins = this.pins.get(backend.id);
    if (!pins) this.pins.set(backend.id, (pins = new Map()));
    if (++this.picks % SWEEP_EVERY === 0) this.sweep(now);
    const pin = pins.get(clientAddress);
    if (pin && pin.expiresAt > now) {
      const endpoint = backend.endpoints.find((e) => e.key === pin.endpoint);
      if (endpoint && !exclude?.has(endpoint)) {
        pin.expiresAt = now + backend.affinityTimeoutMs!;
        return endpoint;
      }
    }
    const endpoint = this.pickRoundRobin(backend, exclude);
    if (endpoint) pins.set(clientAddress, { endpoint: endpoint.key, expiresAt: now + backend.affinityTimeoutMs! });
    return endpoint;
  }

  /** Forgets backends that left the table, so state does not grow with churn. */
  retain(backendIds: ReadonlySet<string>): void {
    for (const id of this.next.keys()) if (!backendIds.has(id)) this.next.delete(id);
    for (const id of this.pins.keys()) if (!backendIds.has(id)) this.pins.delete(id);
  }

  private sweep(now: number): void {
    for (const pins of this.pins.values()) for (const [client, pin] of pins) if (pin.expiresAt <= now) pins.delete(client);
  }
}
