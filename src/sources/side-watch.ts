import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;

/**
 * A list+watch of something besides the routing snapshot (ACMEIssuers, the shared challenge
 * ConfigMap). Optional by design: while it fails (the CRD is not installed, the API server is
 * away) it retries with back-off, logs once, and never holds up readiness.
 */
export class SideWatch<T extends KubernetesObject> {
  private readonly informer: ListWatch<T>;
  private readonly what: string;
  private readonly log: Logger;
  private readonly onChange: (items: readonly T[]) => void;
  private retryMs = RETRY_MIN_MS;
  private failing = false;
  private stopped = false;
  private restartPending = false;

  constructor(kc: KubeConfig, what: string, path: string, list: () => Promise<KubernetesListObject<T>>, onChange: (items: readonly T[]) => void, log: Logger, fieldSelector?: string) {
    this.what = what;
    this.log = log;
    this.onChange = onChange;
    this.informer = new ListWatch<T>(path, new Watch(kc), list, false, undefined, fieldSelector);
    const changed = (): void => this.onChange(this.informer.list());
    this.informer.on('add', changed);
    this.informer.on('update', changed);
    this.informer.on('delete', changed);
    this.informer.on('error', (err: unknown) => this.failed(err));
  }

  start(): void {
    void this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    const wasFailing = this.failing;
    this.failing = false;
    try {
      await this.informer.start();
    } catch (err) {
      this.failed(err);
    }
    if (this.failing) return;
    this.retryMs = RETRY_MIN_MS;
    if (wasFailing) this.log.info({ watch: this.what }, 'watch re-established');
    this.onChange(this.informer.list());
  }

  private failed(err: unknown): void {
    if (!this.failing) this.log.warn({ watch: this.what, err: String((err as Error)?.message ?? err) }, 'watch failed; retrying');
    this.failing = true;
    if (this.restartPending || this.stopped) return;
    this.restartPending = true;
    setTimeout(() => {
      this.restartPending = false;
      void this.run();
    }, this.retryMs).unref();
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }
}
