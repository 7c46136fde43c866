import type { UpstreamKeepalive } from '../../table/server-settings.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HeaderChanges, HeaderPairs, OwnHeaders } from '../headers.ts';
import type { RequestBody } from '../request-body.ts';
import type { UpstreamRecord } from '../../observability/request-record.ts';
import type { Endpoint } from '../../table/types.ts';

/** Why an attempt failed before a response reached the client; each maps to one status code. */
export type FailureKind =
  | 'refused' // 502
  | 'reset' // 502
  | 'error' // 502: anything else on the connection
  | 'connect-timeout' // 504
  | 'read-timeout' // 504
  | 'send-timeout' // 504
  | 'body-too-large' // 413
  | 'upstream-status' // the pod answered with a status listed in proxy-next-upstream
  | 'client-gone'; // the client went away: nothing to answer

export interface Attempt {
  readonly endpoint: Endpoint;
  readonly tls: boolean;
  readonly method: string;
  /** Path and query as the pod receives them. */
  readonly path: string;
  readonly headers: HeaderPairs;
  /**
   * A small body read whole (replayable, like nginx's request buffering), a streamed one
   * (not replayable once the pod took a byte), or none.
   */
  readonly body: Buffer | RequestBody | null;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** Statuses that fail the attempt instead of being answered (proxy-next-upstream http_5xx). */
  readonly failOnStatus: ReadonlySet<number>;
  /** Statuses whose answer is not passed on but replaced by the error backend's (custom-http-errors). */
  readonly interceptStatus?: ReadonlySet<number> | undefined;
  readonly res: ServerResponse;
  /** What the route's steps add to the pod's response (CORS, cookies). */
  readonly changes?: HeaderChanges | undefined;
  /** Portico's own headers for every response of the request (its id, `server`, HSTS); the pod's namesakes win. */
  readonly ownHeaders?: OwnHeaders | undefined;
  /** `allow-backend-server-header`: pass the pod's `Server` header on (removed by default). */
  readonly backendServerHeader?: boolean;
  /**
   * Filled in by the engine as the attempt goes (times from its start), synchronously, so the
   * record is complete even when the response ends before the caller resumes.
   */
  readonly record?: UpstreamRecord | undefined;
}

export type AttemptOutcome =
  | { readonly kind: 'responded'; readonly status: number }
  | { readonly kind: 'intercepted'; readonly status: number }
  | { readonly kind: 'failed'; readonly failure: FailureKind; readonly requestSent: boolean; readonly error?: Error };

/**
 * A forwarding engine: sends one attempt to one endpoint and, if the pod answers, streams
 * the answer to the client. Retries, endpoint choice and status codes live above it, so
 * every engine behaves the same; the behaviour suite runs against each.
 */
export interface ForwardEngine {
  forward(attempt: Attempt): Promise<AttemptOutcome>;
  /**
   * The ConfigMap's upstream keep-alive settings: pools made from now on use them; pools made
   * before close once their requests in flight finish.
   */
  configure(keepalive: UpstreamKeepalive): void;
  /** Drops connection pools to endpoints that are no longer in the table. */
  retain(endpoints: ReadonlySet<string>): void;
  close(): Promise<void>;
}

/** Tunnels WebSocket upgrades, already decided and routed, to one endpoint. */
export interface UpgradeEngine {
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: UpgradeTarget): void;
  retain(endpoints: ReadonlySet<string>): void;
  close(): Promise<void>;
}

/** What the upgrade engine needs to tunnel one upgrade request to one endpoint. */
export interface UpgradeTarget {
  readonly endpoint: Endpoint;
  readonly tls: boolean;
  /** Path and query as the pod receives them. */
  readonly path: string;
  readonly connectTimeoutMs: number;
  readonly headers: Record<string, string | string[]>;
}

/** Node and undici error codes → failure kinds. */
export function failureOf(err: Error & { code?: string }): FailureKind {
  switch (err.code) {
    case 'PORTICO_BODY_TOO_LARGE': return 'body-too-large';
    case 'PORTICO_SEND_TIMEOUT': return 'send-timeout';
    case 'ECONNREFUSED': return 'refused';
    case 'UND_ERR_CONNECT_TIMEOUT': case 'ECONNECT_TIMEOUT': return 'connect-timeout';
    case 'UND_ERR_HEADERS_TIMEOUT': case 'UND_ERR_BODY_TIMEOUT': case 'PORTICO_READ_TIMEOUT': return 'read-timeout';
    case 'ECONNRESET': case 'EPIPE': case 'UND_ERR_SOCKET': return 'reset';
    default: return 'error';
  }
}
