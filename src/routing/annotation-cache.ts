import type { V1Ingress } from '@kubernetes/client-node';
import type { ObjectRef } from '../diagnostics.ts';
import type { ObjectSnapshot } from '../snapshot.ts';
import type { ControllerConfig } from './config-map/index.ts';
import { parseIngressAnnotations, type ParsedAnnotations } from './annotations/index.ts';

/** One lookup a parse made in the snapshot, and what it found. */
interface Lookup {
  readonly map: 'secrets' | 'configMaps';
  readonly key: string;
  readonly found: unknown;
}

interface Entry {
  readonly annotations: Readonly<Record<string, string>> | undefined;
  readonly config: ControllerConfig | undefined;
  readonly lookups: readonly Lookup[];
  readonly parsed: ParsedAnnotations;
}

/**
 * Parsed annotations kept per Ingress object between builds (the informer and the manifest
 * source hand back the same object while it is unchanged). An entry is reused only while
 * everything its parse read is the same: the annotations, the controller config, and each
 * Secret or ConfigMap it looked up (a Secret that appeared, changed or went away misses).
 * Memoisation only: a build gives the same table with or without it. Held weakly: an entry
 * goes with its Ingress object. One cache serves one pipeline (its flags never change).
 */
export class AnnotationCache {
  private readonly entries = new WeakMap<V1Ingress, Entry>();
  /** Each build reads the ConfigMap into a new object: the first of those that read the same stands for all. */
  private lastConfig: { seen: ControllerConfig; same: ControllerConfig; reading: string } | undefined;

  parse(ingress: V1Ingress, ref: ObjectRef, namespace: string, snapshot: ObjectSnapshot, built: ControllerConfig | undefined): ParsedAnnotations {
    const config = built === undefined ? undefined : this.sameConfig(built);
    const annotations = ingress.metadata?.annotations;
    const entry = this.entries.get(ingress);
    if (entry && entry.annotations === annotations && entry.config === config && entry.lookups.every((l) => snapshot[l.map].get(l.key) === l.found)) return entry.parsed;
    const lookups: Lookup[] = [];
    let trackable = true;
    const recorded = (map: Lookup['map']): ReadonlyMap<string, never> => new RecordingMap(snapshot[map] as ReadonlyMap<string, never>, (key, found) => lookups.push({ map, key, found }), () => (trackable = false));
    const parsed = parseIngressAnnotations(annotations, ref, { namespace, snapshot: { ...snapshot, secrets: recorded('secrets'), configMaps: recorded('configMaps') }, config });
    if (trackable) this.entries.set(ingress, { annotations, config, lookups, parsed });
    return parsed;
  }

  /** `config`, or the earlier config object that reads the same (source, values in use, unenforced guards). */
  private sameConfig(config: ControllerConfig): ControllerConfig {
    const last = this.lastConfig;
    if (last?.seen === config) return last.same;
    const reading = JSON.stringify([config.source, [...config.inUse], [...config.unenforced]]);
    this.lastConfig = { seen: config, same: last?.reading === reading ? last.same : config, reading };
    return this.lastConfig.same;
  }
}

/** A map that reports each key looked up; iterating it cannot be tracked, so it says so. */
class RecordingMap<V> implements ReadonlyMap<string, V> {
  private readonly inner: ReadonlyMap<string, V>;
  private readonly onLookup: (key: string, found: V | undefined) => void;
  private readonly onIterate: () => void;

  constructor(inner: ReadonlyMap<string, V>, onLookup: (key: string, found: V | undefined) => void, onIterate: () => void) {
    this.inner = inner;
    this.onLookup = onLookup;
    this.onIterate = onIterate;
  }

  get size(): number {
    this.onIterate();
    return this.inner.size;
  }

  get(key: string): V | undefined {
    const found = this.inner.get(key);
    this.onLookup(key, found);
    return found;
  }

  has(key: string): boolean {
    this.onLookup(key, this.inner.get(key));
    return this.inner.has(key);
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    this.onIterate();
    this.inner.forEach((value, key) => callback(value, key, this));
  }

  entries(): MapIterator<[string, V]> {
    this.onIterate();
    return this.inner.entries();
  }

  keys(): MapIterator<string> {
    this.onIterate();
    return this.inner.keys();
  }

  values(): MapIterator<V> {
    this.onIterate();
    return this.inner.values();
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }
}
