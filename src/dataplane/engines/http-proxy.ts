import { Agent as HttpAgent, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { Readable, type Duplex } from 'node:stream';
import type { ProxyServer } from 'http-proxy-3';
import { downstreamHeaders, headerObject } from '../headers.ts';
import { RequestBody } from '../request-body.ts';
import type { UpstreamKeepalive } from '../../table/server-settings.ts';
import type { Attempt, AttemptOutcome, ForwardEngine, UpgradeEngine, UpgradeTarget } from './types.ts';
import { failureOf } from './types.ts';
import { writeRawStatus } from '../responses.ts';

class ReadTimeoutError extends Error {
  readonly code = 'PORTICO_READ_TIMEOUT';
}

/** Per-request state the shared ProxyServer's events need. */
interface InFlight {
  attempt: Attempt;
  resolve: (o: AttemptOutcome) => void;
  responded: boolean;
  requestSent: boolean;
  proxyReq?: ClientRequest;
  started: number;
}

/** WebSocket upgrades through an HttpProxyEngine made on the first one (see its constructor). */
export class LazyUpgradeEngine implements UpgradeEngine {
  private engine: HttpProxyEngine | undefined;

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: UpgradeTarget): void {
    (this.engine ??= new HttpProxyEngine()).upgrade(req, socket, head, target);
  }

  /** A new engine has no pools yet, so there is nothing to retain before the first upgrade. */
  retain(endpoints: ReadonlySet<string>): void {
    this.engine?.retain(endpoints);
  }

  async close(): Promise<void> {
    await this.engine?.close();
  }
}

/**
 * The http-proxy API engine (http-proxy-3, the maintained rewrite of http-proxy), with a
 * keep-alive agent per endpoint. Chosen with `--engine http-proxy`; it also tunnels
 * WebSocket upgrades for every engine, which is what it does best.
 */
export class HttpProxyEngine implements ForwardEngine, UpgradeEngine {
  private readonly server: ProxyServer;
  private readonly agents = new Map<string, HttpAgent>();
  private readonly inFlight = new WeakMap<IncomingMessage, InFlight>();

  constructor() {
    // Loaded when an engine is made, not with this module: most data planes never tunnel an
    // upgrade, and the library costs each data-plane thread about 16 MB.
    const { createProxyServer } = createRequire(import.meta.url)('http-proxy-3') as typeof import('http-proxy-3');
    this.server = createProxyServer({ selfHandleResponse: true, xfwd: false, secure: false });
    this.server.on('proxyReq', (proxyReq, req) => {
      const f = this.inFlight.get(req);
      if (!f) return;
      // http-proxy copies the client's headers first: drop those we decided not to forward.
      proxyReq.setTimeout(f.attempt.readTimeoutMs, () => proxyReq.destroy(new ReadTimeoutError('upstream read timed out')));
      proxyReq.once('finish', () => (f.requestSent = true));
    });
    this.server.on('proxyRes', (proxyRes, req, res) => {
      const f = this.inFlight.get(req);
      if (!f) return;
      const status = proxyRes.statusCode ?? 502;
      if (f.attempt.failOnStatus.has(status)) {
        f.resolve({ kind: 'failed', failure: 'upstream-status', requestSent: true });
        proxyRes.destroy();
        return;
      }
      if (f.attempt.interceptStatus?.has(status)) {
        f.resolve({ kind: 'intercepted', status });
        proxyRes.destroy();
        return;
      }
      f.responded = true;
      res.writeHead(status, downstreamHeaders(proxyRes.headers, status, f.attempt.changes, f.attempt.backendServerHeader, f.attempt.ownHeaders));
      proxyRes.setTimeout(f.attempt.readTimeoutMs, () => proxyRes.destroy(new ReadTimeoutError('upstream read timed out')));
      proxyRes.on('error', () => res.destroy());
      proxyRes.pipe(res);
      const record = f.attempt.record;
      if (record) {
        record.status = status;
        record.headerMs = performance.now() - f.started;
        proxyRes.on('data', (chunk: Buffer) => (record.bytes = (record.bytes ?? 0) + chunk.length));
      }
      f.resolve({ kind: 'responded', status });
    });
  }

  /** upstream-keepalive-connections (0: off) and -timeout; Node's agents cannot cap requests per connection. */
  private keepalive: UpstreamKeepalive = { enabled: true, idleTimeoutMs: 60_000, maxRequests: 10_000 };

  configure(keepalive: UpstreamKeepalive): void {
    if (this.keepalive.enabled === keepalive.enabled && this.keepalive.idleTimeoutMs === keepalive.idleTimeoutMs) return;
    this.keepalive = keepalive;
    // New agents from now on; the old ones' requests finish, their idle sockets time out.
    this.agents.clear();
  }

  private agent(a: Attempt): HttpAgent {
    const key = `${a.tls ? 'https' : 'http'}://${a.endpoint.key}`;
    let agent = this.agents.get(key);
    if (!agent) {
      const options = { keepAlive: this.keepalive.enabled, timeout: this.keepalive.idleTimeoutMs };
      agent = a.tls ? new HttpsAgent({ ...options, rejectUnauthorized: false }) : new HttpAgent(options);
      this.agents.set(key, agent);
    }
    return agent;
  }

  forward(a: Attempt): Promise<AttemptOutcome> {
    const req = a.res.req;
    return new Promise((resolve) => {
      const f: InFlight = { attempt: a, resolve, responded: false, requestSent: false, started: performance.now() };
      this.inFlight.set(req, f);
      // http-proxy sends req.url and copies req.headers: give it the path and headers we decided on.
      req.url = a.path;
      req.method = a.method;
      const headers = headerObject(a.headers);
      if (a.body instanceof RequestBody && headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
      req.headers = headers;
      if (a.body instanceof RequestBody) {
        // pipe() does not forward errors: a refused body (too large, send timeout) must abort the upstream request here.
        const body = a.body;
        body.once('error', (err) => {
          f.proxyReq?.destroy(err);
          if (!f.responded) resolve({ kind: 'failed', failure: failureOf(body.failure ?? err), requestSent: true, error: err });
        });
      }
      this.server.web(req, a.res, {
        target: { protocol: a.tls ? 'https:' : 'http:', host: a.endpoint.address, port: a.endpoint.port },
        agent: this.agent(a),
        headers,
        connectTimeout: a.connectTimeoutMs,
        buffer: a.body === null ? emptyBody() : Buffer.isBuffer(a.body) ? Readable.from([a.body]) : a.body,
      }, (err) => {
        if (f.responded) {
          a.res.destroy();
          return;
        }
        const bodyFailure = a.body instanceof RequestBody ? a.body.failure : undefined;
        const cause = (bodyFailure ?? err) as Error & { code?: string };
        resolve({ kind: 'failed', failure: a.res.destroyed && !bodyFailure ? 'client-gone' : failureOf(cause), requestSent: f.requestSent, error: cause });
      });
    });
  }

  /** Tunnels an upgrade (WebSocket) to one endpoint. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, t: UpgradeTarget): void {
    req.url = t.path;
    // http-proxy starts from the client's headers: give it only those we decided to forward.
    req.headers = t.headers;
    this.server.ws(req, socket, head, {
      target: { protocol: t.tls ? 'https:' : 'http:', host: t.endpoint.address, port: t.endpoint.port },
      headers: t.headers,
      connectTimeout: t.connectTimeoutMs,
    }, () => writeRawStatus(socket, 502));
  }

  retain(endpoints: ReadonlySet<string>): void {
    for (const [key, agent] of this.agents) {
      if (!endpoints.has(key.slice(key.indexOf('//') + 2))) {
        this.agents.delete(key);
        agent.destroy();
      }
    }
  }

  async close(): Promise<void> {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
    this.server.close();
  }
}

/** A request without a body: http-proxy pipes whatever stream it is given, and the client's is already consumed. */
function emptyBody(): Readable {
  return Readable.from([]);
}
