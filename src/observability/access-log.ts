import { pino } from 'pino';
import type { LogField, LogVariable } from '../table/log-fields.ts';
import type { Route } from '../table/types.ts';
import type { RequestRecord } from './request-record.ts';

export type AccessLogFormat = 'off' | 'json' | 'text' | 'nginx';
export const ACCESS_LOG_FORMATS: readonly AccessLogFormat[] = ['off', 'json', 'text', 'nginx'];

export interface AccessLogOptions {
  /** `--log-query`: log query strings (they often carry tokens); off by default. */
  readonly logQuery: boolean;
  /** The ConfigMap's `log-format-upstream` fields for the JSON format, read per line (live). */
  readonly fields?: () => readonly LogField[] | undefined;
}

/** Where lines go: stdout by default, any writable in tests. */
export interface LineSink {
  write(line: string): unknown;
  flushSync?(): void;
}

/**
 * One line per request on stdout: JSON (Portico's fields, or the ConfigMap's), ingress-nginx's
 * default `upstreaminfo` text (`nginx`) for existing log parsers, or Portico's short text.
 */
export class AccessLog {
  private readonly format: Exclude<AccessLogFormat, 'off'>;
  private readonly options: AccessLogOptions;
  private readonly out: LineSink;

  constructor(format: Exclude<AccessLogFormat, 'off'>, options: AccessLogOptions = { logQuery: false }, out: LineSink = stdoutSink()) {
    this.format = format;
    this.options = options;
    this.out = out;
  }

  write(r: RequestRecord): void {
    const target = this.options.logQuery ? r.path : withoutQuery(r.path);
    if (this.format === 'nginx') this.out.write(upstreamInfo(r, target));
    else if (this.format === 'text') this.out.write(text(r, target));
    else {
      const fields = this.options.fields?.();
      this.out.write(fields ? configured(r, target, fields, this.options.logQuery) : json(r, target));
    }
  }

  /** Writes out what is buffered (a worker thread leaving). */
  flush(): void {
    try {
      this.out.flushSync?.();
    } catch {
      // stdout is gone: nothing left to tell.
    }
  }
}

/** Lines waiting for stdout beyond this are dropped rather than held (a stalled log reader must not exhaust memory). */
const MAX_BUFFERED = 16 * 1024 * 1024;
/** POSIX: a pipe write up to this size is never split or interleaved with another writer's. */
const PIPE_BUF = 4096;

/**
 * stdout through pino's destination (sonic-boom), which writes asynchronously: one write at a
 * time, what arrives meanwhile queued behind it, the rest written out when the process exits.
 * Lines are gathered here first, for the rest of the event loop's turn or up to PIPE_BUF bytes,
 * and handed over together: one hand-over per batch, not per request (sonic-boom measures its
 * whole pending batch on every write). Batches are whole lines of at most PIPE_BUF bytes, which
 * the kernel writes at once, so the lines of worker threads sharing stdout never interleave.
 */
function stdoutSink(): LineSink {
  const out = pino.destination({ dest: 1, sync: false, maxLength: MAX_BUFFERED, maxWrite: PIPE_BUF });
  const lines = new LineBatch((batch) => out.write(batch));
  process.once('exit', () => {
    try {
      lines.flush();
      out.flushSync();
    } catch {
      // stdout is gone: nothing left to tell.
    }
  });
  return {
    write: (line) => lines.add(line),
    flushSync() {
      lines.flush();
      out.flushSync();
    },
  };
}

/** Lines gathered into batches of at most PIPE_BUF bytes, handed on when full or when the event loop's turn ends. */
export class LineBatch {
  private pending = '';
  private pendingBytes = 0;
  private scheduled: NodeJS.Immediate | undefined;
  private readonly handOver: (batch: string) => void;
  private readonly flushLater = (): void => {
    this.scheduled = undefined;
    this.flush();
  };

  constructor(handOver: (batch: string) => void) {
    this.handOver = handOver;
  }

  add(line: string): void {
    const bytes = Buffer.byteLength(line);
    if (this.pendingBytes + bytes > PIPE_BUF) this.flush();
    this.pending += line;
    this.pendingBytes += bytes;
    this.scheduled ??= setImmediate(this.flushLater);
  }

  flush(): void {
    if (this.pendingBytes === 0) return;
    const batch = this.pending;
    this.pending = '';
    this.pendingBytes = 0;
    this.handOver(batch);
  }
}

function withoutQuery(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

/**
 * Portico's JSON line, written out by hand: the same text `JSON.stringify` gives for these fields
 * in this order (a property test holds it to that), without building an object per request.
 * Method, host and upstream address need no escaping: Node's parser admits only token characters
 * in a method, the request head check only host characters, and the address is Portico's own.
 */
function json(r: RequestRecord, target: string): string {
  const u = r.upstream;
  return `{"time":"${isoTime(r.time)}","request_id":${jsonString(r.requestId)},"client":${jsonString(r.clientAddress)},"method":"${r.method}",` +
    `"host":"${r.host}","path":${jsonString(target)},"status":${r.status},"bytes_in":${r.bytesIn},"bytes_out":${r.bytesOut},` +
    `"duration_ms":${round(r.durationMs)},"upstream":${u ? `"${u.address}"` : 'null'},"upstream_status":${u?.status ?? 'null'},` +
    `"upstream_ms":${u ? round(u.responseMs) : 'null'},"retries":${r.retries},${r.route ? routeFields(r.route) : NO_ROUTE_FIELDS}` +
    // ingress-nginx's $proxy_alternative_upstream_name: the canary backend that took the request.
    `"alternative_upstream":${r.canary ? jsonString(r.canary.id) : 'null'}}\n`;
}

const NO_ROUTE_FIELDS = '"namespace":null,"ingress":null,"service":null,';
/** The route's part of the JSON line, the same for each of its requests: made once per route. */
const routeFieldsOf = new WeakMap<Route, string>();
function routeFields(route: Route): string {
  let fields = routeFieldsOf.get(route);
  if (fields === undefined) {
    fields = `"namespace":${jsonString(route.backend.namespace)},"ingress":${jsonString(route.ingress.slice(route.ingress.indexOf('/') + 1))},"service":${jsonString(route.backend.service)},`;
    routeFieldsOf.set(route, fields);
  }
  return fields;
}

/** Characters `JSON.stringify` writes escaped: quote, backslash, controls, surrogates (a lone one is escaped). */
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A JSON string literal: quoted as it is unless it holds a character JSON escapes. */
export function jsonString(value: string): string {
  return JSON_ESCAPED.test(value) ? JSON.stringify(value) : `"${value}"`;
}

/** `toISOString` of the request's start, the date-and-second part made once per second. */
let isoSecond = -1;
let isoPrefix = '';
export function isoTime(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20); // `2026-12-06T07:07:53.`
  }
  const ms = epochMs - second * 1000;
  return `${isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}

/** `log-format-upstream` as JSON: the operator's field names, Portico's typed values. */
function configured(r: RequestRecord, target: string, fields: readonly LogField[], logQuery: boolean): string {
  const out: Record<string, string | number | null> = {};
  for (const f of fields) out[f.name] = variable(r, f.variable, target, logQuery);
  return JSON.stringify(out) + '\n';
}

function variable(r: RequestRecord, name: LogVariable, target: string, logQuery: boolean): string | number | null {
  const u = r.upstream;
  const route = r.route;
  switch (name) {
    case 'remote_addr': return r.clientAddress;
    case 'remote_user': return r.remoteUser ?? null;
    case 'time_local': return timeLocal(r.time);
    case 'time_iso8601': return new Date(r.time).toISOString();
    case 'msec': return r.time / 1000;
    case 'request': return `${r.method} ${target} ${r.protocol ?? 'HTTP/1.1'}`;
    case 'request_method': return r.method;
    case 'request_uri': return target;
    case 'uri': return withoutQuery(r.path);
    case 'args': case 'query_string': {
      const q = r.path.indexOf('?');
      return logQuery && q !== -1 ? r.path.slice(q + 1) : null;
    }
    case 'status': return r.status;
    case 'body_bytes_sent': return r.bodyBytesOut ?? 0;
    case 'bytes_sent': return r.bytesOut;
    case 'http_referer': return r.referer ?? null;
    case 'http_user_agent': return r.userAgent ?? null;
    case 'request_length': return r.bytesIn;
    case 'request_time': return seconds(r.durationMs);
    case 'proxy_upstream_name': return upstreamName(r);
    case 'proxy_alternative_upstream_name': return r.canary ? `${r.canary.namespace}-${r.canary.service}-${r.canary.port}` : null;
    case 'upstream_addr': return u?.address ?? null;
    case 'upstream_response_length': return u ? u.bytes ?? 0 : null;
    case 'upstream_response_time': return u ? seconds(u.responseMs) : null;
    case 'upstream_connect_time': return u ? seconds(u.connectMs) : null;
    case 'upstream_header_time': return u?.headerMs === undefined ? null : seconds(u.headerMs);
    case 'upstream_status': return u?.status ?? null;
    case 'req_id': case 'request_id': return r.requestId;
    case 'host': return r.host;
    case 'server_protocol': return r.protocol ?? null;
    case 'namespace': return route?.backend.namespace ?? null;
    case 'ingress_name': return route ? route.ingress.slice(route.ingress.indexOf('/') + 1) : null;
    case 'service_name': return route?.backend.service ?? null;
    case 'service_port': return route?.backend.port ?? null;
  }
}

/**
 * ingress-nginx's default `log-format-upstream` (upstreaminfo), byte for byte:
 * `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer"
 * "$http_user_agent" $request_length $request_time [$proxy_upstream_name]
 * [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length
 * $upstream_response_time $upstream_status $req_id`, with nginx's escaping and "-" for empty values.
 */
function upstreamInfo(r: RequestRecord, target: string): string {
  const u = r.upstream;
  const alternative = r.canary ? `${r.canary.namespace}-${r.canary.service}-${r.canary.port}` : '';
  return `${r.clientAddress} - ${nginxEscape(r.remoteUser) || '-'} [${timeLocal(r.time)}] "${nginxEscape(`${r.method} ${target} ${r.protocol ?? 'HTTP/1.1'}`)}" ${r.status} ${r.bodyBytesOut ?? 0} "${nginxEscape(r.referer) || '-'}" "${nginxEscape(r.userAgent) || '-'}" ${r.bytesIn} ${seconds(r.durationMs).toFixed(3)} [${upstreamName(r)}] [${alternative}] ${u?.address ?? '-'} ${u ? u.bytes ?? 0 : '-'} ${u ? seconds(u.responseMs).toFixed(3) : '-'} ${u?.status ?? '-'} ${nginxEscape(r.requestId)}\n`;
}

/** ingress-nginx's $proxy_upstream_name: `namespace-service-port`, `upstream-default-backend` when no rule matched. */
function upstreamName(r: RequestRecord): string {
  const b = r.route?.backend;
  return b ? `${b.namespace}-${b.service}-${b.port}` : 'upstream-default-backend';
}

function text(r: RequestRecord, target: string): string {
  const u = r.upstream;
  return `${r.clientAddress} - [${new Date(r.time).toISOString()}] "${r.method} ${escape(r.host)}${escape(target)}" ${r.status} ${r.bytesOut} ${round(r.durationMs)}ms ${u?.address ?? '-'} ${u?.status ?? '-'} ${escape(r.requestId)} ${r.route?.ingress ?? '-'}\n`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** nginx's $time_local: `03/Dec/2026:06:04:11 +0000`, in the process's time zone. */
export function timeLocal(epochMs: number): string {
  const d = new Date(epochMs);
  const offset = -d.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
  return `${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}`;
}

/** nginx's `escape=default`: `"`, `\` and bytes outside printable ASCII as \xXX; spaces stay. */
function nginxEscape(value: string | undefined): string {
  if (value === undefined) return '';
  return value.replace(/["\\\x00-\x1f\x7f-\uffff]/g, (c) => {
    // Node reads request lines and headers as latin1, one character per byte.
    const bytes = c.charCodeAt(0) < 256 ? [c.charCodeAt(0)] : Buffer.from(c, 'utf8');
    let out = '';
    for (const b of bytes) out += `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;
    return out;
  });
}

/** Portico's short text format: what a client sent cannot forge a field of the line (spaces escaped too). */
function escape(value: string): string {
  return value.replace(/[^\x21\x23-\x5b\x5d-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
