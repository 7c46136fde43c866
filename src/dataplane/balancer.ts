import type { Backend, Endpoint } from '../table/types.ts';
import { EndpointHealth } from './endpoint-health.ts';
import { hash32, rendezvous } from './hashing.ts';

/** Round-robin positions, one per backend (by a hash of its id), in memory the instance's workers share. */
const POSITIONS = 1 << 16;

export function roundRobinMemory(): SharedArrayBuffer {
  return new SharedArrayBuffer(POSITIONS * 4);
}

/** EWMA latency decays with this time constant (ingress-nginx's ewma balancer: 10 s). */
const EWMA_DECAY_MS = 10_000;

interface Load {
  ewmaMs: number;
  at: number;
  inFlight: number;
}

/**
 * Picks endpoints: round robin per backend, and ClientIP session affinity where the Service
 * asks for it (kube-proxy would do that, but Portico bypasses kube-proxy). Affinity is a hash of
 * the client address over the endpoints, not a remembered pin: every worker and every replica
 * sends a client to the same endpoint, and it stays there as long as that endpoint does (so the
 * Service's timeout has nothing to expire). Round robin goes round once per instance: the
 * positions are shared by its workers (two backends whose ids hash alike share one, and stay
 * evenly spread).
 * State is keyed by backend id and endpoint address, so it survives table swaps.
 */
export class Balancer {
  private readonly positions: Uint32Array;
  /** Each backend's position slot, hashed once. */
  private readonly slots = new Map<string, number>();
  private readonly load = new Map<string, Load>();
  private readonly now: () => number;
  readonly health: EndpointHealth;

  constructor(now: () => number = Date.now, health = new EndpointHealth(now), positions = roundRobinMemory()) {
    this.now = now;
    this.health = health;
    this.positions = new Uint32Array(positions);
  }

  /** An endpoint of the backend not in `exclude`, or undefined when none is left. */
  pick(backend: Backend, clientAddress: string, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    const endpoints = backend.endpoints;
    if (endpoints.length === 0) return undefined;
    if (backend.affinityTimeoutMs !== undefined) return this.pickHashed(backend, clientAddress, exclude);
    return this.pickRoundRobin(backend, exclude);
  }

  private pickRoundRobin(backend: Backend, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    const endpoints = backend.endpoints;
    let slot = this.slots.get(backend.id);
    if (slot === undefined) this.slots.set(backend.id, (slot = hash32(backend.id) & (POSITIONS - 1)));
    const start = Atomics.add(this.positions, slot, 1);
    let ejected = -1; // the first candidate out of rotation: used only if every candidate is
    for (let i = 0; i < endpoints.length; i++) {
      const endpoint = endpoints[(start + i) % endpoints.length]!;
      if (exclude?.has(endpoint)) continue;
      if (this.health.isEjected(endpoint.key)) {
        if (ejected === -1) ejected = i;
        continue;
      }
      // Skipped candidates are passed over for the next pick too, as if each had taken its turn.
      if (i > 0) Atomics.add(this.positions, slot, i);
      return endpoint;
    }
    if (ejected === -1) return undefined;
    if (ejected > 0) Atomics.add(this.positions, slot, ejected);
    return endpoints[(start + ejected) % endpoints.length];
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
    for (const id of this.slots.keys()) if (!backendIds.has(id)) this.slots.delete(id);
  }
}
