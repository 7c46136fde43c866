import type { FastifyInstance } from 'fastify';
import { createAdminServer } from './admin/server.ts';
import type { ClassSelection } from './build/ingress-class.ts';
import { DataPlane, type EngineName } from './dataplane/server.ts';
import type { Logger } from './log.ts';
import { Pipeline } from './pipeline.ts';
import { ManifestDirectorySource } from './sources/manifests.ts';

export interface StandaloneOptions extends ClassSelection {
  manifests: string;
  listenAddress: string;
  httpPort: number;
  adminPort: number;
  engine: EngineName;
}

/** `portico serve`: the whole pipeline fed by a directory of manifests instead of a cluster. */
export class Standalone {
  readonly dataPlane: DataPlane;
  private readonly admin: FastifyInstance;
  private readonly source: ManifestDirectorySource;
  private readonly pipeline: Pipeline;
  private readonly options: StandaloneOptions;
  private readonly log: Logger;

  constructor(options: StandaloneOptions, log: Logger) {
    this.options = options;
    this.log = log;
    this.dataPlane = new DataPlane({ host: options.listenAddress, port: options.httpPort, engine: options.engine });
    this.pipeline = new Pipeline(options, (t) => this.dataPlane.swap(t), log);
    this.source = new ManifestDirectorySource(options.manifests, ({ snapshot, problems }) => this.pipeline.apply(snapshot, problems));
    const dataPlane = this.dataPlane;
    const pipeline = this.pipeline;
    this.admin = createAdminServer({
      get current() { return dataPlane.current; },
      get diagnostics() { return pipeline.diagnostics; },
      get notReadyReason() { return dataPlane.current ? undefined : 'manifests not loaded yet'; },
    });
  }

  /** Resolves once the first table is live and both listeners accept connections. */
  async start(): Promise<{ httpPort: number; adminPort: number }> {
    await this.source.start();
    const httpPort = await this.dataPlane.listen();
    await this.admin.listen({ host: this.options.listenAddress, port: this.options.adminPort });
    const adminPort = (this.admin.server.address() as { port: number }).port;
    this.log.info({ httpPort, adminPort, manifests: this.options.manifests, engine: this.options.engine }, 'portico serving');
    return { httpPort, adminPort };
  }

  async stop(): Promise<void> {
    this.source.stop();
    await this.admin.close();
    await this.dataPlane.close();
  }
}
