import type { V1Ingress } from '@kubernetes/client-node';
import type { Diagnostic, ObjectRef } from '../diagnostics.ts';
import type { HostRoutes, TlsCertificate } from '../table/types.ts';
import { AnnotationCache } from './annotation-cache.ts';
import type { Resolution } from './backends.ts';
import type { HostParts, IngressContribution } from './ingress-contribution.ts';
import { RegexCache } from './regex.ts';

/** What one host was built from, and what came of it. */
export interface HostEntry {
  readonly parts: HostParts;
  readonly routes: HostRoutes;
  readonly diagnostics: readonly Diagnostic[];
}

/** A build's TLS hosts, and the entries, oldest Ingress first, they were made from. */
export interface TlsHosts {
  readonly entries: readonly IngressContribution['tlsHosts'][number][];
  readonly map: ReadonlyMap<string, TlsCertificate | undefined>;
}

/** What the cache knows of one Ingress object. */
export interface IngressEntry {
  readonly ingress: V1Ingress;
  readonly ref: ObjectRef;
  /** The oldest-first sort key: creation time, then `namespace/name`. */
  readonly time: number;
  readonly id: string;
  /** Its contribution to the last build that read it. */
  contribution: IngressContribution | undefined;
}

/**
 * What a build keeps for the next one, so that a change to one Ingress among thousands costs
 * about that Ingress and its hosts: parsed annotations and compiled regexes, each Ingress's
 * contribution (reused while the Ingress object, its parsed annotations, the backends and the
 * Secrets it read are the same), each backend's resolution (while its Service and
 * EndpointSlices are the same objects), and each host's routes (while the contributions to it
 * are). Memoisation only: a build gives the same table and diagnostics with or without it.
 * Bounded by what the last build saw: per-object entries are held weakly, per-host and
 * per-backend ones are replaced by each build's. One cache serves one pipeline.
 */
export class BuildCache {
  readonly annotations: AnnotationCache;
  readonly regexes = new RegexCache();
  readonly ingresses = new WeakMap<V1Ingress, IngressEntry>();
  resolutions: ReadonlyMap<string, Resolution> | undefined;
  /** Hosts one rule names, by that rule (a contribution reused keeps its rules). */
  readonly loneHosts = new WeakMap<HostParts, HostEntry>();
  /** Hosts several rules name, by host. */
  sharedHosts: ReadonlyMap<string, HostEntry> = new Map();
  tls: TlsHosts | undefined;
  /** The last build's Ingresses, oldest first, and each one's place by `namespace/name`. */
  order: { readonly entries: readonly IngressEntry[]; readonly positions: ReadonlyMap<string, number> } | undefined;

  /** `annotations` may be shared with another cache (a dry run reads the pipeline's parses, nothing else). */
  constructor(annotations = new AnnotationCache()) {
    this.annotations = annotations;
  }
}

/** Whether two lists hold the same objects in the same order. */
export function sameItems<T>(a: readonly T[] | undefined, b: readonly T[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
