import type { Backend, Route } from '../table/types.ts';

/** One finished request as the access log and the metrics see it. Built once, when the response ends. */
export interface RequestRecord {
  /** Epoch milliseconds at the start of the request. */
  time: number;
  requestId: string;
  clientAddress: string;
  method: string;
  /** Host header without port, lower case. */
  host: string;
  /** The request-target as received, query included (the access log only; metrics use the route's path). */
  path: string;
  /** `HTTP/1.1` (nginx's $server_protocol). */
  protocol?: string | undefined;
  referer?: string | undefined;
  userAgent?: string | undefined;
  /** The user name of a Basic Authorization header (nginx's $remote_user), whoever checked it. */
  remoteUser?: string | undefined;
  /** Bytes of response body sent to the client (nginx's $body_bytes_sent). */
  bodyBytesOut?: number | undefined;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  /** Undefined when no rule matched. */
  route: Route | undefined;
  /** The canary Ingress's backend, when it took the request (ingress-nginx's alternative upstream). */
  canary?: Backend | undefined;
  upstream: UpstreamRecord | undefined;
  /** Attempts after the first (retries). */
  retries: number;
}

export interface UpstreamRecord {
  address: string;
  status: number | undefined;
  /** Time to the connection being ready (0 on a reused keep-alive connection, as nginx reports). */
  connectMs: number;
  /** Time to the response head. */
  headerMs: number | undefined;
  /** Time to the end of the response. */
  responseMs: number;
  /** Bytes of response body the pod sent ($upstream_response_length). */
  bytes?: number | undefined;
}

/** What the data plane reports to; metrics and the access log implement it. */
export interface RequestObserver {
  requestDone(record: RequestRecord): void;
  upstreamFailed(kind: string): void;
  endpointEjected(): void;
  connectionOpened(): void;
  connectionClosed(): void;
  /** A request's head arrived; `requestDone` follows when it ends. */
  requestStarted(): void;
}
