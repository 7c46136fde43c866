import type { EndpointStats } from '../dataplane/endpoint-health.ts';
import type { RateLimitMemory } from '../dataplane/rate-limiter.ts';
import type { EngineName } from '../dataplane/server.ts';
import type { PemPair } from '../dataplane/tls.ts';
import type { AccessLogFormat } from '../observability/access-log.ts';
import type { MetricsIdentity, WorkerMetrics } from '../observability/metrics.ts';
import type { ListenerSettings } from '../table/server-settings.ts';
import type { TransferableTable } from '../table/transfer.ts';

/** What a worker thread starts with (its `workerData`). */
export interface WorkerInit {
  readonly index: number;
  /** The BroadcastChannel the instance's workers share ejections on (one name per instance). */
  readonly ejections: string;
  readonly host: string;
  /** Ports the instance reserved: every worker binds these with SO_REUSEPORT. */
  readonly httpPort: number;
  readonly httpsPort: number | undefined;
  readonly engine: EngineName;
  readonly listener: ListenerSettings;
  readonly fallbackCertificate: PemPair;
  readonly limits: RateLimitMemory;
  readonly roundRobin: SharedArrayBuffer;
  /** Undefined: metrics off. */
  readonly metrics: MetricsIdentity | undefined;
  /** Undefined: access log off. */
  readonly accessLog: { readonly format: Exclude<AccessLogFormat, 'off'>; readonly logQuery: boolean } | undefined;
  /** Undefined before the first table. */
  readonly table: TransferableTable | undefined;
  readonly challenges: ReadonlyMap<string, string>;
}

export type ToWorker =
  | { readonly type: 'table'; readonly table: TransferableTable }
  | { readonly type: 'challenges'; readonly answers: ReadonlyMap<string, string> }
  | { readonly type: 'metrics'; readonly id: number }
  | { readonly type: 'health'; readonly id: number }
  | { readonly type: 'drain'; readonly graceMs: number };

export type FromWorker =
  | { readonly type: 'listening' }
  | { readonly type: 'listen-failed'; readonly message: string; readonly code: string | undefined; readonly port: number | undefined; readonly address: string | undefined }
  | { readonly type: 'metrics'; readonly id: number; readonly metrics: WorkerMetrics }
  | { readonly type: 'health'; readonly id: number; readonly stats: ReadonlyMap<string, EndpointStats> };
