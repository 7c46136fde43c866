import type { FastifyInstance } from 'fastify';
import { createAdminServer } from './admin/server.ts';
import type { ClassSelection } from './build/ingress-class.ts';
import { DataPlane, type EngineName } from './dataplane/server.ts';
import type { Logger } from './log.ts';
import { Pipeline } from './pipeline.ts';

export interface RuntimeOptions extends ClassSelection {
  listenAddress: string;
  httpPort: number;
  adminPort: number;
  engine: EngineName;
}

export interface Readiness {
  /** Why Portico is not ready yet, or undefined once it is. */
  notReadyReason(): string | undefined;
  /** Something an operator should know while ready (e.g. serving the last table without an API server). */
  detail(): string | undefined;
}

/** What both modes share: the pipeline, the data plane and the admin server. Sources differ. */
export class Runtime {
  readonly dataPlane: DataPlane;
  readonly pipeline: Pipeline;
  private readonly admin: FastifyInstance;
  private readonly options: RuntimeOptions;

  constructor(options: RuntimeOptions, log: Logger, readiness: Readiness) {
    this.options = options;
    this.dataPlane = new DataPlane({ host: options.listenAddress, port: options.httpPort, engine: options.engine });
    this.pipeline = new Pipeline(options, (t) => this.dataPlane.swap(t), log);
    const dataPlane = this.dataPlane;
    const pipeline = this.pipeline;
    this.admin = createAdminServer({
      get current() { return dataPlane.current; },
      get diagnostics() { return pipeline.diagnostics; },
      notReadyReason: () => readiness.notReadyReason() ?? (dataPlane.current ? undefined : 'no routing table yet'),
      detail: () => readiness.detail(),
    });
  }

  async listen(): Promise<{ httpPort: number; adminPort: number }> {
    const httpPort = await this.dataPlane.listen();
    await this.admin.listen({ host: this.options.listenAddress, port: this.options.adminPort });
    const adminPort = (this.admin.server.address() as { port: number }).port;
    return { httpPort, adminPort };
  }

  async close(): Promise<void> {
    await this.admin.close();
    await this.dataPlane.close();
  }
}
