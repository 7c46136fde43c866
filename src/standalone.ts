import type { Logger } from './log.ts';
import { Runtime, type RuntimeOptions } from './runtime.ts';
import { ManifestDirectorySource } from './sources/manifests.ts';
import type { RoutingTable } from './table/types.ts';

export interface StandaloneOptions extends RuntimeOptions {
  /** The directory of manifests. */
  manifests: string;
  /** Only this file of it (`--manifests` named a file). */
  manifestFile?: string | undefined;
  /** Larger manifest files are refused (`--max-manifest-bytes`). */
  maxManifestBytes: number;
}

/** `portico serve`: the whole pipeline fed by a directory of manifests instead of a cluster. */
export class Standalone {
  private readonly runtime: Runtime;
  private readonly source: ManifestDirectorySource;
  private readonly options: StandaloneOptions;
  private readonly log: Logger;

  constructor(options: StandaloneOptions, log: Logger) {
    this.options = options;
    this.log = log;
    this.runtime = new Runtime(options, log, {
      notReadyReason: () => (this.runtime.current ? undefined : 'manifests not loaded yet'),
      detail: () => undefined,
    });
    this.source = new ManifestDirectorySource(options.manifests, ({ snapshot, problems }) => this.runtime.pipeline.apply(snapshot, problems), {
      maxBytes: options.maxManifestBytes,
      file: options.manifestFile,
      onError: (err) => log.warn({ err: String(err), manifests: options.manifests }, 'could not reload the manifests directory; the last routing table keeps serving'),
    });
  }

  /** The routing table being served. */
  get current(): RoutingTable | undefined {
    return this.runtime.current;
  }

  /** Resolves once the first table is live and both listeners accept connections. */
  async start(): Promise<{ httpPort: number; httpsPort: number | undefined; adminPort: number }> {
    await this.source.start();
    const ports = await this.runtime.listen();
    this.log.info({ ...ports, manifests: this.options.manifests, engine: this.options.engine }, 'portico serving');
    return ports;
  }

  async stop(): Promise<void> {
    this.source.stop();
    await this.runtime.close();
  }

  /** Graceful: see Runtime.shutdown. */
  async shutdown(delayMs: number, graceMs: number): Promise<void> {
    await this.runtime.shutdown(delayMs, graceMs);
    this.source.stop();
  }
}
