import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServerClass, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RoutingTable } from '../table/types.ts';
import type { ListenerSettings, ServerSettings } from '../table/server-settings.ts';
import { Balancer } from './balancer.ts';
import { HttpProxyEngine, LazyUpgradeEngine } from './engines/http-proxy.ts';
import type { ForwardEngine, UpgradeEngine } from './engines/types.ts';
import { UndiciEngine } from './engines/undici.ts';
import { RequestMirrors } from './request-mirror.ts';
import { acceptProxyProtocol } from './proxy-protocol.ts';
import { RequestHandler, type ChallengeAnswers } from './request-handler.ts';
import { StepState } from './steps/index.ts';
import type { RateLimitMemory } from './rate-limiter.ts';
import type { Ejection } from './endpoint-health.ts';
import { writeRawStatus } from './responses.ts';
import type { RequestObserver } from '../observability/request-record.ts';
import { generateSelfSigned, TLS_OPTIONS, TlsStore, type PemPair } from './tls.ts';

export type EngineName = 'undici' | 'http-proxy';
export const ENGINES: readonly EngineName[] = ['undici', 'http-proxy'];

export interface DataPlaneOptions {
  host: string;
  port: number;
  /** The listeners' limits until the first table brings the ConfigMap's. */
  listener: ListenerSettings;
  /** The HTTPS listener's port; undefined: no HTTPS listener. */
  httpsPort?: number | undefined;
  engine: EngineName;
  /** ACME HTTP-01 answers to serve on the HTTP listener (controller mode). */
  challenges?: ChallengeAnswers | undefined;
  /** Metrics and the access log. */
  observer?: RequestObserver | undefined;
  /**
   * One of several worker threads of an instance: each binds the same ports with SO_REUSEPORT
   * (the kernel spreads connections), serves the certificate the instance generated, counts
   * limits in the instance's shared memory and tells the others of the endpoints it ejects.
   */
  worker?: {
    readonly fallbackCertificate: PemPair;
    readonly limits: { readonly memory: RateLimitMemory; readonly worker: number };
    /** The instance's round-robin positions (`roundRobinMemory`). */
    readonly roundRobin: SharedArrayBuffer;
    readonly shareEjection: (ejection: Ejection) => void;
  } | undefined;
}


/**
 * The HTTP and HTTPS listeners and the live table. `swap` replaces the table in one
 * assignment; each request reads `current` once, so it finishes with the table it started with.
 */
export class DataPlane {
  current: RoutingTable | undefined;
  /** Set once the HTTPS listener runs. */
  tls: TlsStore | undefined;
  private https: HttpsServer | undefined;
  private servedFallback: PemPair | undefined;
  private servedVersions: ServerSettings['tlsVersions'] | undefined;
  private readonly servers: Server[] = [];
  private readonly engine: ForwardEngine;
  /** http-proxy-3 tunnels WebSocket upgrades whichever engine forwards requests. */
  private readonly upgrades: UpgradeEngine;
  /** Each engine once (one object may be both). */
  private readonly engines: ReadonlySet<ForwardEngine | UpgradeEngine>;
  readonly balancer: Balancer;
  private readonly stepState: StepState;
  private readonly mirrors = new RequestMirrors();
  private readonly tunnels = new Set<Duplex>();
  private readonly options: DataPlaneOptions;
  /** Set when shutting down: responses say `Connection: close`, so clients move elsewhere. */
  draining = false;
  /** The limits the listeners run with: the current table's (the ConfigMap's), live. */
  private listener: ListenerSettings;

  constructor(options: DataPlaneOptions) {
    this.options = options;
    this.listener = options.listener;
    const httpProxy = options.engine === 'http-proxy' ? new HttpProxyEngine() : undefined;
    this.upgrades = httpProxy ?? new LazyUpgradeEngine();
    this.engine = httpProxy ?? new UndiciEngine();
    this.engines = new Set([this.engine, this.upgrades]);
    this.stepState = new StepState(options.worker?.limits);
    this.balancer = new Balancer(undefined, undefined, options.worker?.roundRobin);
    const observer = options.observer;
    const share = options.worker?.shareEjection;
    if (observer || share) {
      this.balancer.health.onEject = (ejection) => {
        observer?.endpointEjected();
        share?.(ejection);
      };
    }
  }

  swap(table: RoutingTable): void {
    this.current = table;
    this.updateTls(table);
    this.engine.configure(table.settings.upstreamKeepalive);
    // A handful of property writes: cheaper than finding out whether they changed.
    this.listener = table.settings.listener;
    for (const server of this.servers) applyListenerSettings(server, this.listener);
    const live = new Set<string>();
    for (const backend of table.backends.values()) for (const e of backend.endpoints) live.add(e.key);
    for (const engine of this.engines) engine.retain(live);
    this.balancer.retain(new Set(table.backends.keys()), live);
    this.balancer.health.retain(live);
  }

  /** New certificates for new handshakes; the server's own context answers clients without SNI. */
  private updateTls(table: RoutingTable): void {
    if (!this.tls) return;
    this.tls.update(table);
    const versions = table.settings.tlsVersions;
    if (this.https && (this.tls.fallbackPem !== this.servedFallback || versions !== this.servedVersions)) {
      this.servedFallback = this.tls.fallbackPem;
      this.servedVersions = versions;
      this.https.setSecureContext({ minVersion: versions.min, maxVersion: versions.max, cert: this.servedFallback.certPem, key: this.servedFallback.keyPem });
    }
  }

  /** `use-proxy-protocol` of the current table, read for each new connection. */
  private readonly proxyProtocol = (): boolean => this.current?.settings.proxyProtocol ?? false;

  private handler(proto: 'http' | 'https', httpsPort?: number): RequestHandler {
    const options = { proto, httpsPort, challenges: proto === 'http' ? this.options.challenges : undefined, observer: this.options.observer, stepState: this.stepState, mirrors: this.mirrors };
    return new RequestHandler(this, this.engine, this.balancer, options, this.upgrades);
  }

  private attach(server: Server, handler: RequestHandler): void {
    server.on('request', handler.handle);
    // Expect: 100-continue: decide first, so a refused upload is refused before the client sends it.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handler.handle(req, res, true));
    // CONNECT is for forward proxies; answer it rather than let Node drop the connection.
    server.on('connect', (_req: IncomingMessage, socket: Duplex) => writeRawStatus(socket, 405));
    const observer = this.options.observer;
    if (observer) {
      server.on(server instanceof HttpsServerClass ? 'secureConnection' : 'connection', (socket: Duplex) => {
        observer.connectionOpened();
        socket.once('close', () => observer.connectionClosed());
      });
    }
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Upgraded connections leave the HTTP server's bookkeeping: track them for close().
      this.tunnels.add(socket);
      socket.once('close', () => this.tunnels.delete(socket));
      handler.handleUpgrade(req, socket, head);
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      // Node's own choices: 431 for oversized headers, 408 for a request head too slow to arrive.
      writeRawStatus(socket, err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400);
    });
    this.servers.push(server);
  }

  private serverOptions() {
    // requestTimeout 0: a long upload is fine as long as data flows (the proxy timeouts govern that).
    // Node checks header timeouts on an interval (30 s by default): check often enough to honour them.
    return {
      requestTimeout: 0, connectionsCheckingInterval: 500,
      // Only WebSocket upgrades are tunnelled; any other Upgrade (h2c, …) is an ordinary request, its header dropped.
      shouldUpgradeCallback: isWebSocketUpgrade,
    };
  }

  /** Starts the listeners; returns their ports (useful when asked for port 0). */
  async listen(): Promise<{ httpPort: number; httpsPort: number | undefined; generatedCertificate: boolean }> {
    let httpsPort: number | undefined;
    let generatedCertificate = false;
    if (this.options.httpsPort !== undefined) {
      this.tls = new TlsStore(this.options.worker?.fallbackCertificate ?? await generateSelfSigned());
      generatedCertificate = !this.current?.defaultCertificate;
      this.servedFallback = this.tls.fallbackPem;
      const https = createHttpsServer({
        ...this.serverOptions(), ...TLS_OPTIONS, SNICallback: this.tls.sniCallback, ALPNProtocols: ['http/1.1'],
        cert: this.servedFallback.certPem, key: this.servedFallback.keyPem,
      });
      this.https = https;
      if (this.current) this.updateTls(this.current);
      const store = this.tls;
      acceptProxyProtocol(https, this.proxyProtocol, { context: () => store.contextFor(undefined), sniCallback: store.sniCallback });
      httpsPort = await this.bind(https, this.options.httpsPort);
      this.attach(https, this.handler('https'));
    }
    const http = createServer(this.serverOptions());
    acceptProxyProtocol(http, this.proxyProtocol);
    const httpPort = await this.bind(http, this.options.port);
    this.attach(http, this.handler('http', httpsPort));
    return { httpPort, httpsPort, generatedCertificate };
  }

  private async bind(server: Server, port: number): Promise<number> {
    applyListenerSettings(server, this.listener);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: this.options.host, reusePort: this.options.worker !== undefined }, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  /**
   * Graceful stop: stop accepting, let requests in flight finish for up to `graceMs` (idle
   * keep-alive connections close at once; busy ones after their response, which says
   * `Connection: close`), then close whatever is left.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const closed = Promise.all(this.servers.map((server) => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    })));
    const timer = setTimeout(() => this.servers.forEach((s) => s.closeAllConnections()), graceMs);
    await closed;
    clearTimeout(timer);
    await this.close();
  }

  async close(): Promise<void> {
    for (const socket of this.tunnels) socket.destroy();
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    })));
    for (const engine of this.engines) await engine.close();
    await this.stepState.close();
    await this.mirrors.close();
  }
}

/**
 * The ConfigMap's limits on a running listener, for the connections it accepts from now on
 * (Node reads these server properties per connection and per request).
 */
function applyListenerSettings(server: Server, l: ListenerSettings): void {
  // Set at creation in Node's typings, but read from the server for every new connection.
  (server as Server & { maxHeaderSize: number }).maxHeaderSize = l.maxHeaderSize;
  server.headersTimeout = l.headersTimeoutMs;
  // keep-alive 0 is nginx's "no keep-alive": the request handler closes each connection after its response.
  server.keepAliveTimeout = l.keepAliveTimeoutMs;
  server.maxConnections = l.maxConnections;
}

/** RFC 6455: a GET with `Upgrade: websocket`. */
function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return req.method === 'GET' && req.headers.upgrade?.toLowerCase() === 'websocket';
}
