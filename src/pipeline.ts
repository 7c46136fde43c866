import { performance } from 'node:perf_hooks';
import { BuildCache, buildRoutingTable } from './routing/index.ts';
import type { BuildOptions } from './routing/index.ts';
import type { ControllerConfig } from './routing/config-map/index.ts';
import { formatDiagnostic, type Diagnostic } from './diagnostics.ts';
import type { GatewayStatuses } from './routing/gateway/index.ts';
import type { Logger } from './log.ts';
import type { ObjectSnapshot } from './snapshot.ts';
import type { RoutingTable } from './table/types.ts';
import type { Metrics } from './observability/metrics.ts';

/**
 * snapshot → build → atomic swap. Owns the generation counter and the current diagnostics,
 * and logs each diagnostic once when it appears (a steady state logs nothing new).
 */
export class Pipeline {
  diagnostics: readonly Diagnostic[] = [];
  /** What the last build says the Gateway API objects' status should be (the leader writes it). */
  gatewayStatus: GatewayStatuses | undefined;
  private generation = 0;
  /** What each build keeps for the next: a change to one Ingress costs about that Ingress. */
  private readonly cache = new BuildCache();
  /** The last build's reading of the controller ConfigMap: a bad new value keeps the one in use. */
  private config: ControllerConfig | undefined;
  private readonly settings: Omit<BuildOptions, 'generation'>;
  private readonly swap: (table: RoutingTable) => void;
  private readonly log: Logger;

  private readonly metrics: Metrics | undefined;

  constructor(settings: Omit<BuildOptions, 'generation'>, swap: (table: RoutingTable) => void, log: Logger, metrics?: Metrics) {
    this.settings = settings;
    this.metrics = metrics;
    this.swap = swap;
    this.log = log;
  }

  /**
   * The diagnostics `snapshot` would give, with nothing swapped in or logged: the admission
   * webhook's question "what if this Ingress were applied?".
   */
  dryRun(snapshot: ObjectSnapshot): readonly Diagnostic[] {
    // The parsed annotations only: the rest of the cache remembers what the last build used, and a dry run is not the table in use.
    return buildRoutingTable(snapshot, { ...this.settings, generation: this.generation, cache: new BuildCache(this.cache.annotations), previousConfig: this.config }).diagnostics;
  }

  /** Builds and swaps in a table; `sourceProblems` are the source's own (unparseable files and the like). */
  apply(snapshot: ObjectSnapshot, sourceProblems: readonly Diagnostic[] = []): RoutingTable {
    const started = performance.now();
    const { table, diagnostics, config, gatewayStatus } = buildRoutingTable(snapshot, { ...this.settings, generation: ++this.generation, cache: this.cache, previousConfig: this.config });
    this.config = config;
    this.gatewayStatus = gatewayStatus;
    const buildSeconds = (performance.now() - started) / 1000;
    this.swap(table);
    const all = [...sourceProblems, ...diagnostics];
    const before = new Set(this.diagnostics.map(formatDiagnostic));
    for (const d of all) {
      const text = formatDiagnostic(d);
      if (!before.has(text)) this.log.warn({ code: d.code, object: d.object, field: d.field }, text);
    }
    this.diagnostics = all;
    this.metrics?.tableBuilt(buildSeconds, table, all);
    this.log.info({ generation: table.generation, hosts: table.exactHosts.size + table.wildcardHosts.size + (table.anyHost ? 1 : 0), backends: table.backends.size, buildMs: Math.round((performance.now() - started) * 100) / 100 }, 'routing table live');
    return table;
  }
}
