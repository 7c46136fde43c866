import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { escapePath, normaliseRequestPath } from '../table/paths.ts';
import { hostKey, hostRoutes, matchPath, type RouteMatch } from '../table/match.ts';
import type { Endpoint, Route, RoutingTable } from '../table/types.ts';
import type { Balancer } from './balancer.ts';
import type { Attempt, FailureKind, ForwardEngine } from './engines/types.ts';
import { requestIdOf, upstreamHeaders, type ForwardedFacts } from './headers.ts';
import { readSmallBody, RequestBody } from './request-body.ts';
import { sendRedirect, sendStatus } from './responses.ts';
import type { RequestObserver, UpstreamRecord } from '../observability/request-record.ts';

/** Methods nginx never retries once the request was sent (unless `non_idempotent`). */
const NON_IDEMPOTENT = new Set(['POST', 'PATCH', 'LOCK']);
const STATUS_OF_FAILURE: Record<FailureKind, number> = {
  'refused': 502, 'reset': 502, 'error': 502, 'upstream-status': 502,
  'connect-timeout': 504, 'read-timeout': 504, 'send-timeout': 504,
  'body-too-large': 413, 'client-gone': 499,
};
const NO_RETRY = new Set<number>();
/** Failures that say the endpoint itself is unwell (passive health), not the request or the client. */
const EJECTING = new Set<FailureKind>(['refused', 'reset', 'connect-timeout']);
/** Bodies up to this size with a Content-Length are read whole first, so they can be retried. */
const BUFFERED_BODY_LIMIT = 64 * 1024;
const CLIENT_BODY_TIMEOUT_MS = 60_000; // nginx client_body_timeout

export interface TableHolder {
  /** The live table; read once per request, so a swap never affects a request in flight. */
  readonly current: RoutingTable | undefined;
  /** Shutting down: every response closes its connection. */
  readonly draining: boolean;
}

export interface ProxyOptions {
  readonly proto: 'http' | 'https';
  /** HTTP listener only: the HTTPS port redirects point at (omitted from the URL when 443). */
  readonly httpsPort?: number | undefined;
  /** HTTPS listener only: HSTS switched on globally (each Ingress can still switch it off). */
  readonly hsts?: boolean;
  /** HTTP listener only: answers to ACME HTTP-01 challenges, served before any route. */
  readonly challenges?: ChallengeAnswers | undefined;
  /** Metrics and the access log; undefined when both are off. */
  readonly observer?: RequestObserver | undefined;
}

/** What is known about a request as it goes, for the observer when the response ends. */
interface Trace {
  route: Route | undefined;
  upstream: UpstreamRecord | undefined;
  upstreamStarted: number;
  retries: number;
}

export interface ChallengeAnswers {
  answer(token: string): string | undefined;
}

const HSTS = 'max-age=31536000; includeSubDomains';
const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** What the data plane resolved for a request before forwarding it. */
interface Resolved {
  table: RoutingTable;
  host: string;
  path: string;
  match: RouteMatch;
  requestId: string;
  upstreamPath: string;
  rewritten: boolean;
}

/**
 * The per-request path: match, redirects, body limit, endpoint choice, retries and the
 * status code of failures. Forwarding itself is the engine's.
 */
export class Proxy {
  private readonly tables: TableHolder;
  private readonly engine: ForwardEngine;
  private readonly balancer: Balancer;
  private readonly options: ProxyOptions;
  private readonly upgrade: ((req: IncomingMessage, socket: Duplex, head: Buffer, target: UpgradeTarget) => void) | undefined;

  constructor(tables: TableHolder, engine: ForwardEngine, balancer: Balancer, options: ProxyOptions, upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer, target: UpgradeTarget) => void) {
    this.tables = tables;
    this.engine = engine;
    this.balancer = balancer;
    this.options = options;
    this.upgrade = upgrade;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const requestId = requestIdOf(req.headers);
    // The same id in the access log, upstream and the response: one id to grep for.
    res.setHeader('x-request-id', requestId);
    if (this.tables.draining) res.shouldKeepAlive = false;
    const trace = this.options.observer ? this.trace(req, res, requestId) : undefined;
    if (this.options.challenges && req.url?.startsWith(ACME_CHALLENGE_PREFIX) && this.answerChallenge(req, res)) return;
    const resolved = this.resolve(req, requestId);
    if (typeof resolved === 'number') return sendStatus(res, resolved, requestId);
    if (typeof resolved === 'string') return sendRedirect(res, 302, resolved, requestId);
    const { route } = resolved.match;
    if (trace) trace.route = route;
    const o = route.options;
    if (o.redirect) return sendRedirect(res, o.redirect.code, o.redirect.url, requestId);
    const https = this.httpsRedirect(req, resolved);
    if (https !== undefined) return sendRedirect(res, 308, https, requestId);
    if (this.options.hsts && o.hsts) res.setHeader('strict-transport-security', HSTS);
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > o.bodyLimit) {
      // Refused before reading the body; the unread body makes the connection unusable.
      return sendStatus(res, 413, requestId, { connection: 'close' });
    }
    void this.forward(req, res, route, resolved, trace);
  };

  /** Starts timing a request; the observer gets its record when the response ends or the client goes. */
  private trace(req: IncomingMessage, res: ServerResponse, requestId: string): Trace {
    const observer = this.options.observer!;
    const time = Date.now();
    const started = performance.now();
    const socket = req.socket;
    const written = socket.bytesWritten;
    const trace: Trace = { route: undefined, upstream: undefined, upstreamStarted: 0, retries: 0 };
    res.once('close', () => {
      const now = performance.now();
      if (trace.upstream) trace.upstream.responseMs = now - trace.upstreamStarted;
      let headerBytes = (req.method?.length ?? 0) + (req.url?.length ?? 0) + 12;
      for (const h of req.rawHeaders) headerBytes += h.length + 2;
      observer.requestDone({
        time, requestId,
        clientAddress: socket.remoteAddress ?? '',
        method: req.method ?? '',
        host: hostKey(req.headers.host),
        path: req.url ?? '',
        // A client that left before the response head: nginx's 499.
        status: res.headersSent ? res.statusCode : 499,
        bytesIn: headerBytes + (Number(req.headers['content-length']) || 0),
        bytesOut: socket.bytesWritten - written,
        durationMs: now - started,
        route: trace.route,
        upstream: trace.upstream,
        retries: trace.retries,
      });
    });
    return trace;
  }

  /** An HTTP-01 token we published: answered here, whatever the host. Unknown tokens go on to the routes. */
  private answerChallenge(req: IncomingMessage, res: ServerResponse): boolean {
    const token = req.url!.slice(ACME_CHALLENGE_PREFIX.length).split('?', 1)[0]!;
    const keyAuthorization = this.options.challenges!.answer(token);
    if (keyAuthorization === undefined) return false;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(keyAuthorization) });
    res.end(keyAuthorization);
    return true;
  }

  /** Matches a request; a number is the status to answer with, a string a 302 target (app-root). */
  private resolve(req: IncomingMessage, requestId: string): Resolved | number | string {
    const table = this.tables.current;
    if (!table) return 503;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const path = normaliseRequestPath(rawPath);
    if (path === undefined || !path.startsWith('/')) return 400;
    const host = hostKey(req.headers.host);
    const routes = hostRoutes(table, host);
    if (routes?.appRoot !== undefined && path === '/') return `${this.options.proto}://${req.headers.host ?? ''}${routes.appRoot}`;
    const match = matchPath(table, routes, path);
    if (!match) return 404;
    const rewrite = match.route.options.rewrite;
    let upstreamPath = url;
    let rewritten = false;
    if (rewrite && match.groups) {
      let target = '';
      for (const part of rewrite.parts) target += typeof part === 'number' ? (match.groups[part] ?? '') : part;
      if (!target.startsWith('/')) target = `/${target}`;
      upstreamPath = escapePath(target) + (q === -1 ? '' : url.slice(q));
      rewritten = target !== path;
    }
    return { table, host, path, match, requestId, upstreamPath, rewritten };
  }

  /**
   * ssl-redirect (hosts with a TLS section) and force-ssl-redirect (any host), on the HTTP
   * listener only, ACME challenges exempt. Like ingress-nginx, one trailing slash is dropped
   * unless preserve-trailing-slash is set.
   */
  private httpsRedirect(req: IncomingMessage, r: Resolved): string | undefined {
    if (this.options.proto !== 'http' || this.options.httpsPort === undefined) return undefined;
    const o = r.match.route.options;
    if (!o.forceSslRedirect && !(o.sslRedirect && hasTls(r.table, r.host))) return undefined;
    if (r.path.startsWith(ACME_CHALLENGE_PREFIX)) return undefined;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q === -1 ? url : url.slice(0, q);
    if (!o.preserveTrailingSlash && path.endsWith('/')) path = path.slice(0, -1);
    const port = this.options.httpsPort === 443 ? '' : `:${this.options.httpsPort}`;
    return `https://${r.host}${port}${path}${q === -1 ? '' : url.slice(q)}`;
  }

  private async forward(req: IncomingMessage, res: ServerResponse, route: Route, r: Resolved, trace: Trace | undefined): Promise<void> {
    const o = route.options;
    const backend = route.backend;
    const clientAddress = req.socket.remoteAddress ?? '';
    const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    let body: Buffer | RequestBody | null = null;
    if (length !== undefined && length > 0 && length <= BUFFERED_BODY_LIMIT) {
      try {
        body = await readSmallBody(req, length, CLIENT_BODY_TIMEOUT_MS);
      } catch {
        if (!res.destroyed) sendStatus(res, 408, r.requestId, { connection: 'close' });
        return;
      }
    } else if (length !== undefined ? length > 0 : req.headers['transfer-encoding'] !== undefined) {
      body = new RequestBody(o.bodyLimit, o.sendTimeoutMs);
      req.pipe(body);
    }
    const headers = upstreamHeaders(req.rawHeaders, this.forwardedFacts(req, r));
    const policy = o.nextUpstream;
    const maxTries = Math.max(1, Math.min(policy.tries === 0 ? Infinity : policy.tries, backend.endpoints.length));
    const tried = new Set<Endpoint>();
    let lastFailure: FailureKind | undefined;

    for (let attemptNo = 1; attemptNo <= maxTries; attemptNo++) {
      const endpoint = this.balancer.pick(backend, clientAddress, tried);
      if (!endpoint) break;
      tried.add(endpoint);
      const last = attemptNo === maxTries;
      const attempt: Attempt = {
        endpoint,
        tls: o.backendProtocol === 'HTTPS',
        method: req.method ?? 'GET',
        path: r.upstreamPath,
        headers,
        body,
        connectTimeoutMs: o.connectTimeoutMs,
        readTimeoutMs: o.readTimeoutMs,
        failOnStatus: last ? NO_RETRY : policy.onStatus,
        res,
        record: trace ? this.startAttempt(trace, endpoint, attemptNo) : undefined,
      };
      const outcome = await this.engine.forward(attempt);
      const key = `${endpoint.address}:${endpoint.port}`;
      if (outcome.kind === 'responded') {
        this.balancer.health.succeeded(key);
        return;
      }
      lastFailure = outcome.failure;
      if (EJECTING.has(outcome.failure)) this.balancer.health.failed(key);
      if (outcome.failure !== 'client-gone') this.options.observer?.upstreamFailed(outcome.failure);
      if (!this.mayRetry(outcome.failure, outcome.requestSent, req.method ?? 'GET', body, policy)) break;
    }
    if (lastFailure === 'client-gone') return;
    // After a refused body the rest of it is unread: the connection cannot carry another request.
    sendStatus(res, lastFailure ? STATUS_OF_FAILURE[lastFailure] : 503, r.requestId, lastFailure === 'body-too-large' ? { connection: 'close' } : undefined);
  }

  private startAttempt(trace: Trace, endpoint: Endpoint, attemptNo: number): UpstreamRecord {
    trace.retries = attemptNo - 1;
    trace.upstreamStarted = performance.now();
    trace.upstream = { address: `${endpoint.address}:${endpoint.port}`, status: undefined, connectMs: 0, headerMs: undefined, responseMs: 0 };
    return trace.upstream;
  }

  private mayRetry(failure: FailureKind, requestSent: boolean, method: string, body: Buffer | RequestBody | null, policy: Route['options']['nextUpstream']): boolean {
    const allowed =
      ((failure === 'refused' || failure === 'reset' || failure === 'error') && policy.onError) ||
      ((failure === 'connect-timeout' || failure === 'read-timeout') && policy.onTimeout) ||
      failure === 'upstream-status';
    if (!allowed) return false;
    if (requestSent && NON_IDEMPOTENT.has(method) && !policy.nonIdempotent) return false;
    // A streamed body that already went (partly) to one pod cannot be replayed to another.
    return !(body instanceof RequestBody) || !body.touched;
  }

  /** WebSocket and other upgrades: matched like any request, then tunnelled by the upgrade engine. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const requestId = requestIdOf(req.headers);
    const resolved = this.resolve(req, requestId);
    const refuse = (status: number): void => {
      socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 503 ? 'Service Temporarily Unavailable' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    if (typeof resolved !== 'object') return refuse(typeof resolved === 'number' ? resolved : 404);
    const { route } = resolved.match;
    const endpoint = this.balancer.pick(route.backend, req.socket.remoteAddress ?? '');
    if (!endpoint || !this.upgrade) return refuse(503);
    const o = route.options;
    this.upgrade(req, socket, head, {
      endpoint,
      tls: o.backendProtocol === 'HTTPS',
      path: resolved.upstreamPath,
      connectTimeoutMs: o.connectTimeoutMs,
      headers: upstreamHeaders(req.rawHeaders, { ...this.forwardedFacts(req, resolved), upgrade: req.headers.upgrade ?? 'websocket' }),
    });
  };

  /** What the pod is told about the client and the route (X-Forwarded-*, Host, the request id). */
  private forwardedFacts(req: IncomingMessage, r: Resolved): ForwardedFacts {
    const o = r.match.route.options;
    return {
      clientAddress: req.socket.remoteAddress ?? '',
      host: req.headers.host ?? '',
      upstreamHost: o.upstreamVhost ?? req.headers.host ?? '',
      port: req.socket.localPort ?? 0,
      proto: this.options.proto,
      requestId: r.requestId,
      forwardedPrefix: r.rewritten ? o.forwardedPrefix : undefined,
    };
  }
}

/** The host has a TLS section in one of our Ingresses (exact, or a one-label wildcard). */
function hasTls(table: RoutingTable, host: string): boolean {
  if (table.tlsHosts.has(host)) return true;
  const dot = host.indexOf('.');
  return dot > 0 && table.tlsHosts.has(`*${host.slice(dot)}`);
}

export interface UpgradeTarget {
  endpoint: Endpoint;
  tls: boolean;
  path: string;
  connectTimeoutMs: number;
  headers: Record<string, string | string[]>;
}
