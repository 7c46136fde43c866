import type { Backend, Endpoint } from '../table/types.ts';
import { EndpointHealth } from './endpoint-health.ts';
import { rendezvous } from './hashing.ts';

interface Pin {
  endpoint: string;
  expiresAt: number;
}

const SWEEP_EVERY = 1024;
/** EWMA latency decays with this time constant (ingress-nginx's ewma balancer: 10 s). */
const EWMA_DECAY_MS = 10_000;

interface Load {
  ewmaMs: number;
  at: number;
  inFlight: number;
}

/**
 * Picks endpoints: round robin per backend, and ClientIP session affinity where the
 * Service asks for it (kube-proxy would do that, but Portico bypasses kube-proxy).
 * State is keyed by backend id and endpoint address, so it survives table swaps.
 */
export class Balancer {
  private readonly next = new Map<string, number>();
  private readonly pins = new Map<string, Map<string, Pin>>();
  private readonly load = new Map<string, Load>();
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

  /** Endpoints that may take a request: not excluded, and not ejected unless every one is. */
  available(backend: Backend, exclude?: ReadonlySet<Endpoint>): Endpoint[] {
    const candidates = exclude ? backend.endpoints.filter((e) => !exclude.has(e)) : backend.endpoints;
    const healthy = candidates.filter((e) => !this.health.isEjected(e.key));
    return healthy.length > 0 ? healthy : candidates.slice();
  }

  /** Consistent hashing of `key` (upstream-hash-by, balanced cookie affinity). */
  pickHashed(backend: Backend, key: string, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    return rendezvous(key, this.available(backend, exclude));
  }

  /**
   * `load-balance: ewma`: of two random endpoints, the one with the lower latency average times
   * requests in progress (an endpoint not yet measured goes first).
   */
  pickEwma(backend: Backend, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    const candidates = this.available(backend, exclude);
    if (candidates.length <= 1) return candidates[0];
    const a = candidates[Math.floor(Math.random() * candidates.length)]!;
    let b = candidates[Math.floor(Math.random() * (candidates.length - 1))]!;
    if (b === a) b = candidates[candidates.length - 1]!;
    return this.score(a) <= this.score(b) ? a : b;
  }

  private score(e: Endpoint): number {
    const l = this.load.get(e.key);
    return l ? l.ewmaMs * (l.inFlight + 1) : 0;
  }

  /** An ewma-balanced attempt starts; call the returned function with its latency when it ends. */
  started(endpoint: Endpoint): (latencyMs: number) => void {
    let l = this.load.get(endpoint.key);
    if (!l) this.load.set(endpoint.key, (l = { ewmaMs: 0, at: this.now(), inFlight: 0 }));
    const load = l;
    load.inFlight++;
    return (latencyMs) => {
      load.inFlight--;
      const now = this.now();
      const w = Math.exp(-(now - load.at) / EWMA_DECAY_MS);
      load.ewmaMs = load.ewmaMs === 0 ? latencyMs : load.ewmaMs * w + latencyMs * (1 - w);
      load.at = now;
    };
  }

  /** Forgets backends that left the table, so state does not grow with churn. */
  retain(backendIds: ReadonlySet<string>, endpointKeys?: ReadonlySet<string>): void {
    if (endpointKeys) for (const key of this.load.keys()) if (!endpointKeys.has(key)) this.load.delete(key);
    for (const id of this.next.keys()) if (!backendIds.has(id)) this.next.delete(id);
    for (const id of this.pins.keys()) if (!backendIds.has(id)) this.pins.delete(id);
  }

  private sweep(now: number): void {
    for (const pins of this.pins.values()) for (const [client, pin] of pins) if (pin.expiresAt <= now) pins.delete(client);
  }
}
