import { hostname } from 'node:os';
import type { CoreV1Api } from '@kubernetes/client-node';
import { formatDiagnostic, type Diagnostic } from '../diagnostics.ts';
import type { Logger } from '../log.ts';
import type { ObjectSnapshot } from '../snapshot.ts';
import { objectKey } from '../snapshot.ts';

const COMPONENT = 'portico';

/**
 * Turns build diagnostics into Kubernetes Events on the objects concerned. An Event is
 * created when a diagnostic appears; while it stays, nothing more is written, so a steady
 * state emits no stream of Events. If it goes away and comes back, it is reported again.
 */
export class EventRecorder {
  private readonly api: CoreV1Api;
  private readonly log: Logger;
  private reported = new Set<string>();

  constructor(api: CoreV1Api, log: Logger) {
    this.api = api;
    this.log = log;
  }

  record(diagnostics: readonly Diagnostic[], snapshot: ObjectSnapshot): void {
    const now = new Set<string>();
    for (const d of diagnostics) {
      const objects = d.object.kind === 'Ingress' ? snapshot.ingresses : d.object.kind === 'ConfigMap' ? snapshot.configMaps : undefined;
      if (!objects || !d.object.namespace) continue;
      const key = formatDiagnostic(d);
      now.add(key);
      if (this.reported.has(key)) continue;
      const object = objects.get(objectKey(d.object.namespace, d.object.name));
      // A ConfigMap that does not exist has nothing to hang an Event on: the log line says it.
      if (!object) continue;
      void this.emit({ ...d.object, uid: object.metadata?.uid }, d.code, d.field ? `${d.field}: ${d.message}` : d.message, d.severity);
    }
    this.reported = now;
  }

  /** One Event on an Ingress or a ConfigMap (ACME failures use this directly). */
  async emit(object: { kind: string; namespace?: string | undefined; name: string; uid?: string | undefined }, reason: string, message: string, type: 'Warning' | 'Normal'): Promise<void> {
    const time = new Date();
    const namespace = object.namespace ?? 'default';
    try {
      await this.api.createNamespacedEvent({ namespace, body: {
        metadata: { generateName: `${object.name}.`, namespace },
        involvedObject: { apiVersion: object.kind === 'ConfigMap' ? 'v1' : 'networking.k8s.io/v1', kind: object.kind, name: object.name, namespace, uid: object.uid },
        reason,
        message: message.slice(0, 1024),
        type,
        source: { component: COMPONENT, host: hostname() },
        reportingComponent: 'portico.dev/ingress-controller',
        reportingInstance: hostname(),
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      } });
    } catch (err) {
      this.log.warn({ err: String(err), reason }, 'could not create an Event');
    }
  }
}
