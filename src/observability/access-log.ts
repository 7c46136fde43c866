import { createWriteStream, type WriteStream } from 'node:fs';
import type { RequestRecord } from './request-record.ts';

export type AccessLogFormat = 'off' | 'json' | 'text';

/**
 * One line per request on stdout: JSON (default) or nginx-like text. Written through a
 * stream that buffers, so logging never blocks a request on the terminal or the pipe.
 */
export class AccessLog {
  private readonly format: Exclude<AccessLogFormat, 'off'>;
  private readonly out: NodeJS.WritableStream;

  constructor(format: Exclude<AccessLogFormat, 'off'>, out: NodeJS.WritableStream = stdoutStream()) {
    this.format = format;
    this.out = out;
  }

  write(r: RequestRecord): void {
    this.out.write(this.format === 'json' ? json(r) : text(r));
  }
}

function stdoutStream(): WriteStream {
  return createWriteStream('', { fd: 1, highWaterMark: 64 * 1024 });
}

function json(r: RequestRecord): string {
  const route = r.route;
  const u = r.upstream;
  return JSON.stringify({
    time: new Date(r.time).toISOString(),
    request_id: r.requestId,
    client: r.clientAddress,
    method: r.method,
    host: r.host,
    path: r.path,
    status: r.status,
    bytes_in: r.bytesIn,
    bytes_out: r.bytesOut,
    duration_ms: round(r.durationMs),
    upstream: u?.address ?? null,
    upstream_status: u?.status ?? null,
    upstream_ms: u ? round(u.responseMs) : null,
    retries: r.retries,
    namespace: route?.backend.namespace ?? null,
    ingress: route ? route.ingress.slice(route.ingress.indexOf('/') + 1) : null,
    service: route?.backend.service ?? null,
    // ingress-nginx's $proxy_alternative_upstream_name: the canary backend that took the request.
    alternative_upstream: r.canary?.id ?? null,
  }) + '\n';
}

function text(r: RequestRecord): string {
  const u = r.upstream;
  return `${r.clientAddress} - [${new Date(r.time).toISOString()}] "${r.method} ${escape(r.host)}${escape(r.path)}" ${r.status} ${r.bytesOut} ${round(r.durationMs)}ms ${u?.address ?? '-'} ${u?.status ?? '-'} ${escape(r.requestId)} ${r.route?.ingress ?? '-'}\n`;
}

/** As nginx's `escape=default`: what a client sent cannot forge a field of the text line. */
function escape(value: string): string {
  return value.replace(/[^\x21\x23-\x5b\x5d-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
