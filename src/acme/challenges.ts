import { ApiException, type CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';

export const CHALLENGE_CONFIGMAP = 'portico-acme-challenges';
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * HTTP-01 answers (token → key authorization). The replica that orders a certificate
 * writes them to a ConfigMap that every replica watches, because the ACME server may reach
 * any node; it also answers its own at once, before the watch catches up.
 */
export class ChallengeStore {
  private readonly local = new Map<string, string>();
  private shared = new Map<string, string>();
  private readonly api: CoreV1Api | undefined;
  private readonly namespace: string;
  private readonly log: Logger;

  constructor(api: CoreV1Api | undefined, namespace: string, log: Logger) {
    this.api = api;
    this.namespace = namespace;
    this.log = log;
  }

  /** The key authorization for a token, if any replica published it. */
  answer(token: string): string | undefined {
    return this.local.get(token) ?? this.shared.get(token);
  }

  /** Every answer, for worker threads (which answer from a copy). */
  all(): Map<string, string> {
    return new Map([...this.shared, ...this.local]);
  }

  /** Called whenever an answer appears or goes: worker threads get the new copy. */
  onChange: (() => void) | undefined;

  /** From the ConfigMap watch. */
  observe(configMap: V1ConfigMap | undefined): void {
    const data = configMap?.data ?? {};
    this.shared = new Map(Object.entries(data).filter(([token]) => TOKEN.test(token)));
    this.onChange?.();
  }

  async publish(token: string, keyAuthorization: string): Promise<void> {
    this.local.set(token, keyAuthorization);
    this.onChange?.();
    await this.edit((data) => void (data[token] = keyAuthorization));
  }

  async withdraw(token: string): Promise<void> {
    this.local.delete(token);
    this.onChange?.();
    await this.edit((data) => void delete data[token]);
  }

  /** Read, change, replace; a conflict (another replica wrote meanwhile) means read again. */
  private async edit(change: (data: Record<string, string>) => void): Promise<void> {
    if (!this.api) return;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        let cm: V1ConfigMap;
        try {
          cm = await this.api.readNamespacedConfigMap({ name: CHALLENGE_CONFIGMAP, namespace: this.namespace });
        } catch (err) {
          if (!(err instanceof ApiException && err.code === 404)) throw err;
          const data: Record<string, string> = {};
          change(data);
          await this.api.createNamespacedConfigMap({ namespace: this.namespace, body: { metadata: { name: CHALLENGE_CONFIGMAP, namespace: this.namespace }, data } });
          return;
        }
        const data = { ...cm.data };
        change(data);
        cm.data = data;
        await this.api.replaceNamespacedConfigMap({ name: CHALLENGE_CONFIGMAP, namespace: this.namespace, body: cm });
        return;
      } catch (err) {
        if (err instanceof ApiException && (err.code === 409 || err.code === 404)) continue;
        this.log.warn({ err: String(err) }, 'could not share an ACME challenge answer; only this replica can answer it');
        return;
      }
    }
  }
}
