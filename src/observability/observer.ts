import type { AccessLog } from './access-log.ts';
import type { RequestMetrics } from './request-metrics.ts';
import type { RequestObserver, RequestRecord } from './request-record.ts';

/** Metrics and the access log behind one observer; undefined when both are off, so the data plane skips all of it. */
export function requestObserver(metrics: RequestMetrics | undefined, accessLog: AccessLog | undefined): RequestObserver | undefined {
  if (!accessLog) return metrics;
  return {
    requestStarted() {
      metrics?.requestStarted();
    },
    requestDone(record: RequestRecord) {
      metrics?.requestDone(record);
      accessLog?.write(record);
    },
    upstreamFailed(kind: string) {
      metrics?.upstreamFailed(kind);
    },
    endpointEjected() {
      metrics?.endpointEjected();
    },
    connectionOpened() {
      metrics?.connectionOpened();
    },
    connectionClosed() {
      metrics?.connectionClosed();
    },
  };
}
