// A worker thread: one data plane (its own event loop and listeners on the instance's ports),
// fed tables by the main thread. Only what serves requests is loaded here: no Kubernetes client,
// no admin server, no build stage, no ACME.
import { BroadcastChannel, parentPort, workerData } from 'node:worker_threads';
import { DataPlane } from '../dataplane/server.ts';
import type { Ejection } from '../dataplane/endpoint-health.ts';
import { createLogger } from '../log.ts';
import { AccessLog } from '../observability/access-log.ts';
import { labelledRegistry } from '../observability/metrics.ts';
import { requestObserver } from '../observability/observer.ts';
import { RequestMetrics } from '../observability/request-metrics.ts';
import { TableDecoder } from '../table/transfer.ts';
import type { FromWorker, ToWorker, WorkerInit } from './messages.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (message: FromWorker): void => port.postMessage(message);
const log = createLogger().child({ worker: init.index });
const decoder = new TableDecoder();
const registry = init.metrics ? labelledRegistry(init.metrics) : undefined;
const metrics = registry ? new RequestMetrics(registry) : undefined;
let answers = init.challenges;
const ejections = new BroadcastChannel(init.ejections);

const accessLog = init.accessLog ? new AccessLog(init.accessLog.format, { logQuery: init.accessLog.logQuery, fields: () => dataPlane.current?.settings.accessLogFields }) : undefined;
const dataPlane: DataPlane = new DataPlane({
  host: init.host, port: init.httpPort, httpsPort: init.httpsPort, engine: init.engine, listener: init.listener,
  challenges: { answer: (token) => answers.get(token) },
  observer: requestObserver(metrics, accessLog),
  worker: {
    fallbackCertificate: init.fallbackCertificate,
    limits: { memory: init.limits, worker: init.index },
    roundRobin: init.roundRobin,
    shareEjection: (ejection) => ejections.postMessage(ejection),
  },
});
ejections.onmessage = (event) => dataPlane.balancer.health.adopt((event as { data: Ejection }).data);
if (init.table) dataPlane.swap(decoder.decode(init.table));

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'table':
      dataPlane.swap(decoder.decode(message.table));
      return;
    case 'challenges':
      answers = message.answers;
      return;
    case 'metrics':
      void registry?.getMetricsAsJSON().then((m) => post({ type: 'metrics', id: message.id, metrics: m as never }));
      return;
    case 'health':
      post({ type: 'health', id: message.id, stats: dataPlane.balancer.health.allStats() });
      return;
    case 'drain':
      void dataPlane.drain(message.graceMs).then(async () => {
        accessLog?.flush();
        ejections.close();
        port.close();
      });
  }
});

try {
  await dataPlane.listen();
  post({ type: 'listening' });
} catch (err) {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  log.error({ err: String(err) }, 'worker could not listen');
  post({ type: 'listen-failed', message: String(err), code: e.code, port: e.port, address: e.address });
}
