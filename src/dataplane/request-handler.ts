import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { ACME_CHALLENGE_PREFIX, escapePath } from '../table/paths.ts';
import { hostRoutes, matchGatewayReadings, matchReadings } from '../table/match.ts';
import type { Backend, Endpoint, Route, RoutingTable } from '../table/types.ts';
import type { ListenerSettings, ServerSettings } from '../table/server-settings.ts';
import { clientOf, type ClientFacts } from './client-address.ts';
import type { Balancer } from './balancer.ts';
import { chooseBackend, type ChosenBackend } from './backend-choice.ts';
import { modifyRequestHeaders } from './steps/gateway.ts';
import type { RequestMirrors } from './request-mirror.ts';
import { pickEndpoint } from './endpoint-choice.ts';
import type { Attempt, FailureKind, ForwardEngine, UpgradeEngine } from './engines/types.ts';
import { headerObject, ownHeadersOf, removePairs, requestIdHeader, requestIdOf, responseChanges, setPair, upstreamHeaders, type ForwardedFacts, type HeaderChanges, type OwnHeaders } from './headers.ts';
import { closeLingeringAfter } from './lingering-close.ts';
import { isRejection, readRequestHead, type RequestHead } from './request-head.ts';
import { readBodyUpTo, readSmallBody, RequestBody } from './request-body.ts';
import { answeredBodyBytes, sendBody, sendStatus, writeRawStatus } from './responses.ts';
import { runSteps, type StepAnswer, type StepContext, type StepState } from './steps/index.ts';
import type { RequestObserver, UpstreamRecord } from '../observability/request-record.ts';

/** Methods nginx never retries once the request was sent (unless `non_idempotent`). */
const NON_IDEMPOTENT = new Set(['POST', 'PATCH', 'LOCK']);
const STATUS_OF_FAILURE: Record<FailureKind, number> = {
  'refused': 502, 'reset': 502, 'error': 502, 'upstream-status': 502,
  'connect-timeout': 504, 'read-timeout': 504, 'send-timeout': 504,
  'body-too-large': 413, 'client-gone': 499,
};
const NO_RETRY = new Set<number>();
const NO_ENDPOINTS = new Set<Endpoint>();
/** Failures that say the endpoint itself is unwell (passive health), not the request or the client. */
const EJECTING = new Set<FailureKind>(['refused', 'reset', 'connect-timeout']);
/** Bodies up to this size with a Content-Length are read whole first, so they can be retried. */
const BUFFERED_BODY_LIMIT = 64 * 1024;
/** Chunked bodies up to this size are read whole and sent with a Content-Length (request buffering). */
const CHUNKED_BUFFER_LIMIT = 1024 * 1024;
/** The request was answered while its body was read (408, 413). */
const ANSWERED = Symbol('answered');
/**
 * The request line's fixed part (` ` + ` HTTP/1.1\r\n`) plus the blank line that ends the head,
 * and each header's `: ` + CRLF: nginx's $request_length, byte for byte.
 */
const REQUEST_LINE_OVERHEAD = 14;
const HEADER_LINE_OVERHEAD = 4;

export interface TableHolder {
  /** The live table; read once per request, so a swap never affects a request in flight. */
  readonly current: RoutingTable | undefined;
  /** Shutting down: every response closes its connection. */
  readonly draining: boolean;
}

export interface RequestHandlerOptions {
  readonly proto: 'http' | 'https';
  /** HTTP listener only: the HTTPS port redirects point at (omitted from the URL when 443). */
  readonly httpsPort?: number | undefined;
  /** HTTP listener only: answers to ACME HTTP-01 challenges, served before any route. */
  readonly challenges?: ChallengeAnswers | undefined;
  /** Metrics and the access log; undefined when both are off. */
  readonly observer?: RequestObserver | undefined;
  /** What request steps remember (rate limits, recent logins): one per process, shared by the listeners. */
  readonly stepState: StepState;
  /** Sends HTTPRoute RequestMirror copies. */
  readonly mirrors: RequestMirrors;
}

/** What is known about a request as it goes, for the observer when the response ends. */
interface Trace {
  host: string;
  route: Route | undefined;
  /** The canary backend, when the route's canary took the request. */
  canary: Backend | undefined;
  upstream: UpstreamRecord | undefined;
  /** The error backend's answer (custom-http-errors), counted as it passes. */
  errorPage?: UpstreamRecord;
  upstreamStarted: number;
  retries: number;
}

export interface ChallengeAnswers {
  answer(token: string): string | undefined;
}

/** Portico answers the request itself: a status page, a redirect, a step's answer or a challenge answer. */
interface Answer extends StepAnswer {
  readonly kind: 'answer';
  /** The route the answer is for, when one matched (metrics, access log). */
  readonly route?: Route | undefined;
  /** The routed host; '' when the request head was refused (access log). */
  readonly host: string;
  readonly onDone?: (() => void)[] | undefined;
  /** The steps' header changes (for an error backend's answer). */
  readonly changes?: HeaderChanges | undefined;
}

/** The request goes to the route's backend. */
interface Forward {
  readonly kind: 'forward';
  readonly host: string;
  readonly head: RequestHead;
  readonly route: Route;
  /** Path and query as the pod receives them. */
  readonly upstreamPath: string;
  readonly rewritten: boolean;
  /** Set by the route's steps: headers for the client's response and the pod's request. */
  readonly changes: HeaderChanges;
  readonly onDone: (() => void)[] | undefined;
}

type Decision = Answer | Forward;

/**
 * The per-request path: every check that decides the answer before a pod is involved (the
 * request head, ACME challenges, app-root, the match, fail-closed routes, redirects, the body
 * limit), then endpoint choice, retries and the status code of failures. Upgrades (WebSocket)
 * go through exactly the same decision before they are tunnelled. Forwarding is the engine's.
 */
export class RequestHandler {
  private readonly tables: TableHolder;
  private readonly engine: ForwardEngine;
  private readonly balancer: Balancer;
  private readonly options: RequestHandlerOptions;
  private readonly upgrades: UpgradeEngine | undefined;

  constructor(tables: TableHolder, engine: ForwardEngine, balancer: Balancer, options: RequestHandlerOptions, upgrades?: UpgradeEngine) {
    this.tables = tables;
    this.engine = engine;
    this.balancer = balancer;
    this.options = options;
    this.upgrades = upgrades;
  }

  /** An ordinary request; `expectsContinue` when the client waits for `100 Continue` before sending its body. */
  readonly handle = (req: IncomingMessage, res: ServerResponse, expectsContinue = false): void => {
    // The table is read once: the request finishes with the settings and routes it started with.
    const table = this.tables.current;
    // The same id in the access log, upstream and the response: one id to grep for.
    const requestId = requestIdOf(req.headers, table?.settings.generateRequestId);
    if (this.tables.draining || (table && lastOnConnection(req, table.settings.listener))) res.shouldKeepAlive = false;
    const client = clientOf(req, this.options.proto, table?.settings);
    const trace = this.options.observer ? this.trace(req, res, requestId, client) : undefined;
    const decision = this.decide(req, requestId, table, client);
    if (decision instanceof Promise) {
      decision
        .then((d) => this.respond(req, res, d, requestId, trace, expectsContinue, table, client), () => this.respond(req, res, { kind: 'answer', status: 500, host: '' }, requestId, trace, false, table, client))
        .catch(() => res.destroy()); // a request can never stop the process
    } else {
      this.respond(req, res, decision, requestId, trace, expectsContinue, table, client);
    }
  };

  private respond(req: IncomingMessage, res: ServerResponse, decision: Decision, requestId: string, trace: Trace | undefined, expectsContinue: boolean, table: RoutingTable | undefined, client: ClientFacts): void {
    if (decision.onDone) for (const done of decision.onDone) res.once('close', done);
    if (trace) {
      trace.route = decision.route;
      trace.host = decision.host;
    }
    const settings = table?.settings;
    // server-tokens: ingress-nginx says nginx; Portico says nothing unless asked. HSTS as
    // ingress-nginx sends it: on every HTTPS response of a route, Portico's own answers included.
    const hsts = this.options.proto === 'https' && decision.route?.options.hsts ? settings?.hstsHeader : undefined;
    const own = ownHeadersOf(requestId, settings?.serverTokens ?? false, hsts);
    if (decision.kind === 'answer') {
      if (decision.route?.options.customErrors?.has(decision.status)) {
        if (hasUnreadBody(req)) closeLingeringAfter(res);
        this.serveCustomError(req, res, decision.route, decision.status, requestId, own, decision.changes, table!, client, trace).catch(() => res.destroy());
        return;
      }
      this.sendAnswer(req, res, own, decision);
      return;
    }
    if (expectsContinue) res.writeContinue();
    this.forward(req, res, decision, requestId, own, trace, table!, client).catch(() => res.destroy());
  }

  /**
   * WebSocket upgrades: decided like any request (redirects, limits, fail-closed routes, …),
   * then tunnelled to one endpoint by the upgrade engine.
   */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const table = this.tables.current;
    const requestId = requestIdOf(req.headers, table?.settings.generateRequestId);
    const client = clientOf(req, this.options.proto, table?.settings);
    const decision = this.decide(req, requestId, table, client);
    if (decision instanceof Promise) {
      decision
        .then((d) => this.upgradeDecided(req, socket, head, d, requestId, table, client), () => writeRawStatus(socket, 500, requestIdHeader(requestId)))
        .catch(() => socket.destroy());
    } else {
      this.upgradeDecided(req, socket, head, decision, requestId, table, client);
    }
  };

  private upgradeDecided(req: IncomingMessage, socket: Duplex, head: Buffer, decision: Decision, requestId: string, table: RoutingTable | undefined, client: ClientFacts): void {
    this.options.observer?.requestStarted();
    const started = performance.now();
    const time = Date.now();
    if (decision.onDone) for (const done of decision.onDone) socket.once('close', done);
    const observe = (status: number, route: Route | undefined, endpoint?: Endpoint, canary?: Backend): void => {
      this.options.observer?.requestDone({
        time, requestId, clientAddress: client.address, method: req.method ?? '', host: decision.host, path: req.url ?? '',
        status, bytesIn: requestHeadBytes(req), bytesOut: 0, durationMs: performance.now() - started, route, canary,
        upstream: endpoint && { address: endpoint.key, status, connectMs: 0, headerMs: undefined, responseMs: performance.now() - started }, retries: 0,
      });
    };
    if (decision.kind === 'answer') {
      writeRawStatus(socket, decision.status, { ...requestIdHeader(requestId), ...decision.headers }, decision.body);
      observe(decision.status, decision.route);
      return;
    }
    const route = decision.route;
    const chosen = chooseBackend(route, req);
    if (chosen.unresolved) {
      writeRawStatus(socket, 500, requestIdHeader(requestId));
      observe(500, route);
      return;
    }
    decision = withBackendHeaders(decision, chosen, req);
    const canary = chosen.canary ? chosen.backend : undefined;
    const endpoint = pickEndpoint(this.balancer, { req, head: decision.head, route, backend: chosen.backend, balancing: chosen.balancing, clientAddress: client.address, proto: client.proto }, NO_ENDPOINTS, false)?.endpoint;
    if (!endpoint || !this.upgrades) {
      writeRawStatus(socket, 503, requestIdHeader(requestId));
      observe(503, route, undefined, canary);
      return;
    }
    const o = route.options;
    socket.once('close', () => observe(101, route, endpoint, canary));
    this.upgrades.upgrade(req, socket, head, {
      endpoint,
      tls: o.backendProtocol === 'HTTPS',
      path: decision.upstreamPath,
      connectTimeoutMs: o.connectTimeoutMs,
      headers: headerObject(upstreamHeaders(req.rawHeaders, { ...this.forwardedFacts(decision, requestId, table!.settings, client), upgrade: req.headers.upgrade ?? 'websocket' })),
    });
  }

  /**
   * Everything Portico can decide about a request without a pod, in nginx's order: the request
   * head, ACME challenges, app-root, the match, then the route's steps. Synchronous unless a
   * step is not (external checks); then the decision comes as a promise.
   */
  private decide(req: IncomingMessage, requestId: string, table: RoutingTable | undefined, client: ClientFacts): Decision | Promise<Decision> {
    const head = readRequestHead(req);
    if (isRejection(head)) return { kind: 'answer', status: head.status, host: '' };
    const host = head.host;
    if (this.options.challenges && head.rawPath.startsWith(ACME_CHALLENGE_PREFIX)) {
      // An HTTP-01 token we published: answered here, whatever the host. Unknown tokens go on to the routes.
      const keyAuthorization = this.options.challenges.answer(head.rawPath.slice(ACME_CHALLENGE_PREFIX.length));
      if (keyAuthorization !== undefined) return { kind: 'answer', status: 200, host, headers: { 'content-type': 'text/plain' }, body: keyAuthorization };
    }
    if (!table) return { kind: 'answer', status: 503, host };
    const routes = hostRoutes(table, host, req.socket.localAddress);
    if (routes?.redirectTo !== undefined) {
      const colon = head.authority.lastIndexOf(':');
      const port = colon > head.authority.lastIndexOf(']') ? head.authority.slice(colon) : '';
      return { kind: 'answer', status: 308, host, headers: { location: `${this.options.proto}://${routes.redirectTo}${port}${head.rawPath}${head.query}` } };
    }
    if (routes?.appRoot !== undefined && head.path === '/') return { kind: 'answer', status: 302, host, headers: { location: `${this.options.proto}://${head.authority}${routes.appRoot}` } };
    // Route on exactly what is forwarded: if another reasonable reading of the raw path lands elsewhere, refuse.
    const match = routes?.gateway ? matchGatewayReadings(routes.gateway, req, head) : matchReadings(table, routes, head.path, head.otherReadings);
    if (typeof match === 'number') return { kind: 'answer', status: match, host };
    const route = match.route;
    const context: StepContext = {
      req, head, route, table, clientAddress: client.address, requestId,
      // A trusted proxy's X-Forwarded-Proto: an HTTPS client behind it is not redirected to HTTPS again.
      proto: client.proto,
      httpsPort: this.options.httpsPort,
      state: this.options.stepState,
      changes: {},
      onDone: undefined,
    };
    const outcome = runSteps(route.steps, context);
    if (outcome instanceof Promise) return outcome.then((answer) => this.decided(context, match.groups, answer));
    return this.decided(context, match.groups, outcome);
  }

  /** The steps ran: Portico's answer (with the headers the steps set), or where to forward. */
  private decided(context: StepContext, groups: readonly (string | undefined)[] | undefined, answer: StepAnswer | undefined): Decision {
    const { head, route, changes, onDone } = context;
    if (answer) {
      const added = responseChanges(changes, answer.status);
      const headers = added ? { ...(added as Record<string, string>), ...answer.headers } : answer.headers;
      return { kind: 'answer', status: answer.status, headers, body: answer.body, host: head.host, route, onDone, changes };
    }
    let upstreamPath = changes.upstreamPath ?? head.rawPath + head.query;
    let rewritten = changes.upstreamPath !== undefined;
    const rewrite = route.options.rewrite;
    if (rewrite && groups) {
      let target = '';
      for (const part of rewrite.parts) target += typeof part === 'number' ? (groups[part] ?? '') : part;
      if (!target.startsWith('/')) target = `/${target}`;
      upstreamPath = escapePath(target) + head.query;
      rewritten = target !== head.path;
    }
    return { kind: 'forward', host: head.host, head, route, upstreamPath, rewritten, changes, onDone };
  }

  /** Our own answer; a request body left unread is drained before the connection closes (no reset). */
  private sendAnswer(req: IncomingMessage, res: ServerResponse, own: OwnHeaders, a: Answer): void {
    if (hasUnreadBody(req)) closeLingeringAfter(res);
    if (a.body === undefined) sendStatus(res, a.status, own, a.headers);
    else sendBody(res, a.status, { ...own, ...a.headers }, a.body);
  }

  /** Starts timing a request; the observer gets its record when the response ends or the client goes. */
  private trace(req: IncomingMessage, res: ServerResponse, requestId: string, client: ClientFacts): Trace {
    const observer = this.options.observer!;
    const time = Date.now();
    const started = performance.now();
    const socket = req.socket;
    const written = socket.bytesWritten;
    const trace: Trace = { host: '', route: undefined, canary: undefined, upstream: undefined, upstreamStarted: 0, retries: 0 };
    observer.requestStarted();
    res.on('close', () => { // a response closes once
      const now = performance.now();
      if (trace.upstream) trace.upstream.responseMs = now - trace.upstreamStarted;
      observer.requestDone({
        time, requestId,
        clientAddress: client.address,
        method: req.method ?? '',
        host: trace.host,
        path: req.url ?? '',
        protocol: `HTTP/${req.httpVersion}`,
        referer: req.headers.referer,
        userAgent: req.headers['user-agent'],
        remoteUser: basicUser(req.headers.authorization),
        // A client that left before the response head: nginx's 499.
        status: res.headersSent ? res.statusCode : 499,
        bytesIn: requestHeadBytes(req) + (Number(req.headers['content-length']) || 0),
        bytesOut: socket.bytesWritten - written,
        // Forwarded bodies (the error backend's included) are counted as they pass; Portico's own answers know their length.
        bodyBytesOut: (trace.errorPage ?? trace.upstream)?.bytes ?? answeredBodyBytes(res) ?? 0,
        durationMs: now - started,
        route: trace.route,
        canary: trace.canary,
        upstream: trace.upstream,
        retries: trace.retries,
      });
    });
    return trace;
  }

  private async forward(req: IncomingMessage, res: ServerResponse, f: Forward, requestId: string, own: OwnHeaders, trace: Trace | undefined, table: RoutingTable, client: ClientFacts): Promise<void> {
    const o = f.route.options;
    const settings = table.settings;
    const chosen = chooseBackend(f.route, req);
    if (chosen.unresolved) {
      // An HTTPRoute backendRef that does not resolve: its share of requests gets 500 (the spec's answer).
      sendStatus(res, 500, own, responseChanges(f.changes, 500));
      return;
    }
    f = withBackendHeaders(f, chosen, req);
    // default-backend also answers while the route's Service has no ready endpoint.
    const backend = chosen.backend.endpoints.length === 0 && o.defaultBackend ? o.defaultBackend : chosen.backend;
    if (trace && chosen.canary) trace.canary = backend;
    // Most requests have no body: no promise, no extra turn of the event loop for them.
    const body = hasBody(req) ? await this.readBody(req, res, o, own, settings.clientBodyTimeoutMs) : null;
    if (body === ANSWERED) return;
    const headers = upstreamHeaders(req.rawHeaders, this.forwardedFacts(f, requestId, settings, client));
    // A chunked body read whole reaches the pod with a Content-Length, as nginx sends it.
    if (Buffer.isBuffer(body) && req.headers['content-length'] === undefined) headers.push('content-length', String(body.length));
    if (f.route.mirrors && !(body instanceof RequestBody)) this.options.mirrors.send(f.route.mirrors, req.method ?? 'GET', f.upstreamPath, headers, body);
    const policy = o.nextUpstream;
    const maxTries = Math.max(1, Math.min(policy.tries === 0 ? Infinity : policy.tries, backend.endpoints.length));
    const tried = new Set<Endpoint>();
    let lastFailure: FailureKind | undefined;

    const choosing = { req, head: f.head, route: f.route, backend, balancing: backend === chosen.backend ? chosen.balancing : o, clientAddress: client.address, proto: client.proto };
    for (let attemptNo = 1; attemptNo <= maxTries; attemptNo++) {
      const picked = pickEndpoint(this.balancer, choosing, tried, attemptNo > 1);
      if (!picked) break;
      const endpoint = picked.endpoint;
      tried.add(endpoint);
      const last = attemptNo === maxTries;
      const attempt: Attempt = {
        endpoint,
        tls: o.backendProtocol === 'HTTPS',
        method: req.method ?? 'GET',
        path: f.upstreamPath,
        headers,
        body,
        connectTimeoutMs: o.connectTimeoutMs,
        readTimeoutMs: o.readTimeoutMs,
        failOnStatus: last ? NO_RETRY : policy.onStatus,
        interceptStatus: o.customErrors,
        res,
        changes: picked.setCookie === undefined ? f.changes : { ...f.changes, response: { ...f.changes.response, 'set-cookie': picked.setCookie } },
        ownHeaders: own,
        backendServerHeader: settings.backendServerHeader,
        record: trace ? this.startAttempt(trace, endpoint, attemptNo) : undefined,
      };
      const ewma = choosing.balancing.loadBalance === 'ewma' ? this.balancer.started(endpoint) : undefined;
      const attemptStarted = ewma && performance.now();
      const outcome = await this.engine.forward(attempt);
      ewma?.(performance.now() - attemptStarted!);
      if (outcome.kind !== 'failed') {
        this.balancer.health.succeeded(endpoint.key);
        if (outcome.kind === 'intercepted') await this.serveCustomError(req, res, f.route, outcome.status, requestId, own, f.changes, table, client, trace);
        return;
      }
      lastFailure = outcome.failure;
      if (EJECTING.has(outcome.failure)) this.balancer.health.failed(endpoint.key);
      if (outcome.failure !== 'client-gone') this.options.observer?.upstreamFailed(outcome.failure);
      if (!this.mayRetry(outcome.failure, outcome.requestSent, req.method ?? 'GET', body, policy)) break;
    }
    if (lastFailure === 'client-gone') return;
    // After a refused body the rest of it is unread: drain it, then close (no reset).
    if (lastFailure === 'body-too-large') closeLingeringAfter(res);
    const status = lastFailure ? STATUS_OF_FAILURE[lastFailure] : 503;
    if (o.customErrors?.has(status)) await this.serveCustomError(req, res, f.route, status, requestId, own, f.changes, table, client, trace);
    else sendStatus(res, status, own, responseChanges(f.changes, status));
  }

  /**
   * custom-http-errors: the answer comes from the error backend (the Ingress's default-backend,
   * else --default-backend-service), asked for `/` with ingress-nginx's X-Code, X-Format,
   * X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port and X-Request-ID;
   * the client gets its status. Without an error backend, or when it fails, Portico's own page.
   */
  private async serveCustomError(req: IncomingMessage, res: ServerResponse, route: Route, status: number, requestId: string, own: OwnHeaders, changes: HeaderChanges | undefined, table: RoutingTable, client: ClientFacts, trace: Trace | undefined): Promise<void> {
    const o = route.options;
    const errorBackend = o.defaultBackend ?? table.errorBackend;
    const endpoint = errorBackend && this.balancer.pick(errorBackend, client.address);
    if (!endpoint || res.headersSent) {
      sendStatus(res, status, own, changes && responseChanges(changes, status));
      return;
    }
    const headers = upstreamHeaders(req.rawHeaders, { client, host: req.headers.host ?? '', upstreamHost: req.headers.host ?? '', requestId, forwardedPrefix: undefined, underscores: table.settings.underscoresInHeaders });
    removePairs(headers, 'content-length');
    const slash = route.ingress.indexOf('/');
    const errorFacts: Record<string, string> = {
      'x-code': String(status), 'x-format': req.headers.accept ?? '', 'x-original-uri': req.url ?? '/',
      'x-namespace': route.ingress.slice(0, slash), 'x-ingress-name': route.ingress.slice(slash + 1),
      'x-service-name': route.backend.service, 'x-service-port': route.backend.port, ...requestIdHeader(requestId),
    };
    for (const name in errorFacts) setPair(headers, name, errorFacts[name]!);
    const outcome = await this.engine.forward({
      endpoint, tls: false, method: req.method ?? 'GET', path: '/', headers, body: null,
      connectTimeoutMs: o.connectTimeoutMs, readTimeoutMs: o.readTimeoutMs, failOnStatus: NO_RETRY, res, changes, ownHeaders: own,
      record: trace && (trace.errorPage = { address: endpoint.key, status: undefined, connectMs: 0, headerMs: undefined, responseMs: 0 }),
    });
    if (outcome.kind === 'failed' && outcome.failure !== 'client-gone') sendStatus(res, status, own, changes && responseChanges(changes, status));
  }

  /**
   * The request body as the pod will get it. With `proxy-request-buffering: on` (the default) a
   * body with a Content-Length of up to 64 KiB is read whole (replayable to another endpoint), and
   * a chunked body up to the body limit or 1 MiB, whichever is smaller, is read whole and sent with
   * a Content-Length (over the limit: 413 before any pod is involved); anything larger streams.
   * With `off`, every body streams as it comes.
   */
  private async readBody(req: IncomingMessage, res: ServerResponse, o: Route['options'], own: OwnHeaders, timeoutMs: number): Promise<Buffer | RequestBody | null | typeof ANSWERED> {
    const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    const stream = (first?: readonly Buffer[]): RequestBody => {
      const body = new RequestBody(o.bodyLimit, o.sendTimeoutMs);
      for (const chunk of first ?? []) body.write(chunk);
      req.pipe(body);
      req.resume();
      return body;
    };
    if (!o.requestBuffering || (length !== undefined && length > BUFFERED_BODY_LIMIT)) return stream();
    try {
      if (length !== undefined) return await readSmallBody(req, length, timeoutMs);
      const read = await readBodyUpTo(req, Math.min(o.bodyLimit, CHUNKED_BUFFER_LIMIT), timeoutMs);
      if (read.complete) return read.chunks.length === 1 ? read.chunks[0]! : Buffer.concat(read.chunks, read.bytes);
      if (read.bytes <= o.bodyLimit) return stream(read.chunks);
      closeLingeringAfter(res);
      sendStatus(res, 413, own);
      return ANSWERED;
    } catch {
      if (res.destroyed) return ANSWERED;
      closeLingeringAfter(res); // the rest of the body may still come
      sendStatus(res, 408, own);
      return ANSWERED;
    }
  }

  private startAttempt(trace: Trace, endpoint: Endpoint, attemptNo: number): UpstreamRecord {
    trace.retries = attemptNo - 1;
    trace.upstreamStarted = performance.now();
    trace.upstream = { address: endpoint.key, status: undefined, connectMs: 0, headerMs: undefined, responseMs: 0 };
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

  /** What the pod is told about the client and the route (X-Forwarded-*, Host, the request id). */
  private forwardedFacts(f: Forward, requestId: string, settings: ServerSettings, client: ClientFacts): ForwardedFacts {
    const o = f.route.options;
    return {
      client,
      host: f.head.authority,
      upstreamHost: f.changes.upstreamHost ?? o.upstreamVhost ?? f.head.authority,
      requestId,
      forwardedPrefix: f.rewritten ? o.forwardedPrefix : undefined,
      changes: f.changes,
      underscores: settings.underscoresInHeaders,
      originalUri: settings.originalUriHeader ? f.head.rawPath + f.head.query : undefined,
    };
  }
}

/** The user name of `Authorization: Basic …` (nginx's $remote_user), or undefined. */
function basicUser(authorization: string | undefined): string | undefined {
  if (!authorization || authorization.length > 4096 || !/^basic /i.test(authorization)) return undefined;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  return colon > 0 ? decoded.slice(0, colon) : undefined;
}

/** Requests answered on each client connection so far. */
const servedOn = new WeakMap<object, number>();

/**
 * The connection closes after this response: `keep-alive: 0` (nginx's "no keep-alive") or the
 * `keep-alive-requests`-th request on it (Node's own maxRequestsPerSocket leaves the socket open).
 */
function lastOnConnection(req: IncomingMessage, listener: ListenerSettings): boolean {
  if (listener.keepAliveTimeoutMs === 0) return true;
  if (listener.keepAliveRequests === 0) return false;
  const served = (servedOn.get(req.socket) ?? 0) + 1;
  servedOn.set(req.socket, served);
  return served >= listener.keepAliveRequests;
}

/** The request declares a body: a positive Content-Length, or a Transfer-Encoding. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length !== undefined ? Number(length) > 0 : req.headers['transfer-encoding'] !== undefined;
}

/** A body is on its way that nobody has read yet. */
function hasUnreadBody(req: IncomingMessage): boolean {
  return !req.complete && hasBody(req);
}

/** The request line and headers as sent, in bytes (nginx's request_length without the body). */
function requestHeadBytes(req: IncomingMessage): number {
  let bytes = (req.method?.length ?? 0) + (req.url?.length ?? 0) + REQUEST_LINE_OVERHEAD;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) bytes += raw[i]!.length + raw[i + 1]!.length + HEADER_LINE_OVERHEAD;
  return bytes;
}

/** The drawn HTTPRoute backendRef's RequestHeaderModifier on top of the route's changes (a copy: the decision may be shared). */
function withBackendHeaders<T extends { readonly changes: HeaderChanges }>(decided: T, chosen: ChosenBackend, req: IncomingMessage): T {
  if (!chosen.requestHeaders) return decided;
  const changes = { ...decided.changes };
  modifyRequestHeaders(changes, chosen.requestHeaders, req);
  return { ...decided, changes };
}
