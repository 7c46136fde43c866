import { randomUUID, X509Certificate } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EndpointStats } from '../dataplane/endpoint-health.ts';
import { forgetWorkerConnections, rateLimitMemory, type RateLimitMemory } from '../dataplane/rate-limiter.ts';
import type { EngineName } from '../dataplane/server.ts';
import { roundRobinMemory } from '../dataplane/balancer.ts';
import { generateSelfSigned, type PemPair } from '../dataplane/tls.ts';
import type { Logger } from '../log.ts';
import type { AccessLogFormat } from '../observability/access-log.ts';
import type { MetricsIdentity, WorkerMetrics } from '../observability/metrics.ts';
import type { ListenerSettings } from '../table/server-settings.ts';
import { encodeTable, type TransferableTable } from '../table/transfer.ts';
import type { RoutingTable } from '../table/types.ts';
import type { FromWorker, ToWorker, WorkerInit } from './messages.ts';

// The worker's own file, compiled or not: `worker.ts` beside this one when run from source.
const WORKER = new URL(`./worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
/** A worker that dies is started again after this, doubling while it keeps dying at once, up to 5 s. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5_000;
/** How long a scrape waits for a worker's answer before reporting without it. */
const ASK_TIMEOUT_MS = 2_000;

export interface WorkerPoolOptions {
  workers: number;
  host: string;
  httpPort: number;
  httpsPort: number | undefined;
  engine: EngineName;
  listener: ListenerSettings;
  metrics: MetricsIdentity | undefined;
  accessLog: AccessLogFormat;
  logQuery: boolean;
}

/** ACME answers the workers serve from a copy, sent again whenever they change. */
export interface ChallengeSource {
  all(): ReadonlyMap<string, string>;
  onChange: (() => void) | undefined;
}

interface Slot {
  worker: Worker | undefined;
  /** Consecutive quick deaths, for the restart back-off. */
  failures: number;
  startedAt: number;
}

/**
 * The data plane on N worker threads. The main thread keeps the sources, the build, the admin
 * server, leader election and ACME; each worker runs its own listeners on the instance's ports
 * (SO_REUSEPORT: the kernel spreads connections) and gets every new table, encoded once and
 * structured-cloned to each. A worker that dies is started again with the current table while
 * the others keep serving.
 */
export class WorkerPool {
  current: RoutingTable | undefined;
  private encoded: TransferableTable | undefined;
  private readonly slots: Slot[];
  private readonly limits: RateLimitMemory;
  private readonly roundRobin = roundRobinMemory();
  private readonly ejections = `portico-ejections-${randomUUID()}`;
  private readonly options: WorkerPoolOptions;
  private readonly log: Logger;
  private readonly challenges: ChallengeSource | undefined;
  private ports: { httpPort: number; httpsPort: number | undefined } | undefined;
  private fallback: (PemPair & { notAfterSeconds: number }) | undefined;
  private stopping = false;
  private asked = 0;
  private readonly waiting = new Map<number, (message: FromWorker) => void>();

  constructor(options: WorkerPoolOptions, log: Logger, challenges?: ChallengeSource) {
    this.options = options;
    this.log = log;
    this.challenges = challenges;
    this.limits = rateLimitMemory(options.workers);
    this.slots = Array.from({ length: options.workers }, () => ({ worker: undefined, failures: 0, startedAt: 0 }));
    if (challenges) challenges.onChange = () => this.broadcast({ type: 'challenges', answers: new Map(challenges.all()) });
  }

  swap(table: RoutingTable): void {
    this.current = table;
    if (!this.ports) return;
    this.encoded = encodeTable(table);
    this.broadcast({ type: 'table', table: this.encoded });
  }

  /** The certificate clients get when no Ingress certificate matches, read by the metrics at scrape time. */
  get fallbackExpiry(): { secret: string; notAfterSeconds: number } | undefined {
    const configured = this.current?.defaultCertificate;
    if (configured) return { secret: configured.secret, notAfterSeconds: Date.parse(configured.notAfter) / 1000 };
    return this.fallback ? { secret: '', notAfterSeconds: this.fallback.notAfterSeconds } : undefined;
  }

  /**
   * Reserves the ports (a taken port fails here, naming it, before any worker starts; port 0
   * becomes one port for all), then starts the workers and waits until each listens. Before the
   * first table (controller mode listens while the informers list) workers answer as one would.
   */
  async listen(): Promise<{ httpPort: number; httpsPort: number | undefined; generatedCertificate: boolean }> {
    const reservations: Reservation[] = [];
    try {
      const https = this.options.httpsPort === undefined ? undefined : await reserve(this.options.host, this.options.httpsPort);
      if (https) reservations.push(https);
      const http = await reserve(this.options.host, this.options.httpPort);
      reservations.push(http);
      const generated = await generateSelfSigned();
      this.fallback = { ...generated, notAfterSeconds: notAfterSeconds(generated.certPem) };
      this.ports = { httpPort: http.port, httpsPort: https?.port };
      this.encoded = this.current && encodeTable(this.current);
      try {
        await Promise.all(this.slots.map((_, index) => this.start(index)));
      } catch (err) {
        await this.close();
        throw err;
      }
    } finally {
      await Promise.all(reservations.map((r) => r.release()));
    }
    return { ...this.ports, generatedCertificate: !this.current?.defaultCertificate };
  }

  private start(index: number): Promise<void> {
    const slot = this.slots[index]!;
    const init: WorkerInit = {
      index, ejections: this.ejections, host: this.options.host, httpPort: this.ports!.httpPort, httpsPort: this.ports!.httpsPort,
      engine: this.options.engine, listener: this.current?.settings.listener ?? this.options.listener, fallbackCertificate: this.fallback!, limits: this.limits, roundRobin: this.roundRobin,
      metrics: this.options.metrics, accessLog: this.options.accessLog === 'off' ? undefined : { format: this.options.accessLog, logQuery: this.options.logQuery },
      table: this.encoded, challenges: new Map(this.challenges?.all() ?? []),
    };
    const worker = new Worker(WORKER, { workerData: init, stdout: false, stderr: false });
    slot.worker = worker;
    slot.startedAt = Date.now();
    return new Promise<void>((resolve, reject) => {
      let listening = false;
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'listening') {
          listening = true;
          resolve();
        } else if (message.type === 'listen-failed') {
          reject(Object.assign(new Error(message.message), { code: message.code, port: message.port, address: message.address }));
        } else {
          this.waiting.get(message.id)?.(message);
        }
      });
      worker.on('error', (err) => {
        this.log.error({ worker: index, err: String(err) }, 'worker thread failed');
        if (!listening) reject(err);
      });
      worker.on('exit', (code) => {
        if (slot.worker !== worker) return;
        slot.worker = undefined;
        if (this.stopping || !listening) return;
        // Its requests in progress died with it: the connection limits forget them.
        forgetWorkerConnections(this.limits, index);
        slot.failures = Date.now() - slot.startedAt < 10_000 ? slot.failures + 1 : 0;
        const delay = Math.min(RESTART_MIN_MS * 2 ** slot.failures, RESTART_MAX_MS);
        this.log.error({ worker: index, code, restartInMs: delay }, 'worker thread exited; starting it again, the other workers keep serving');
        setTimeout(() => {
          if (this.stopping) return;
          this.start(index).catch((err: unknown) => this.log.error({ worker: index, err: String(err) }, 'worker thread could not start again'));
        }, delay).unref();
      });
    });
  }

  private broadcast(message: ToWorker): void {
    for (const slot of this.slots) slot.worker?.postMessage(message);
  }

  /** Asks every live worker; answers that do not come within ASK_TIMEOUT_MS are left out. */
  private async ask<T extends FromWorker>(type: 'metrics' | 'health'): Promise<T[]> {
    const answers = this.slots.filter((s) => s.worker).map((slot) => new Promise<T | undefined>((resolve) => {
      const id = ++this.asked;
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, ASK_TIMEOUT_MS);
      this.waiting.set(id, (message) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(message as T);
      });
      slot.worker!.postMessage({ type, id } satisfies ToWorker);
    }));
    const all: (T | undefined)[] = await Promise.all(answers);
    return all.filter((a): a is T => a !== undefined);
  }

  /** Each worker's request metrics, for one scrape of the instance. */
  async workerMetrics(): Promise<WorkerMetrics[]> {
    return (await this.ask<Extract<FromWorker, { type: 'metrics' }>>('metrics')).map((m) => m.metrics);
  }

  /** Passive health as the instance sees it: requests summed over the workers, ejected if any worker has it out. */
  async endpointStats(): Promise<ReadonlyMap<string, EndpointStats>> {
    const merged = new Map<string, EndpointStats>();
    for (const { stats } of await this.ask<Extract<FromWorker, { type: 'health' }>>('health')) {
      for (const [key, s] of stats) {
        const m = merged.get(key);
        if (!m) {
          merged.set(key, { ...s });
          continue;
        }
        const requests = m.requests + s.requests;
        merged.set(key, {
          ejected: m.ejected || s.ejected, ejectedForMs: Math.max(m.ejectedForMs, s.ejectedForMs), requests,
          errorRate: requests ? (m.errorRate * m.requests + s.errorRate * s.requests) / requests : 0,
        });
      }
    }
    return merged;
  }

  /** Graceful stop of every worker: each stops accepting and lets its requests finish for up to `graceMs`. */
  async drain(graceMs: number): Promise<void> {
    this.stopping = true;
    const exits = this.slots.map((slot) => slot.worker && new Promise<void>((resolve) => {
      const worker = slot.worker!;
      const timer = setTimeout(() => void worker.terminate(), graceMs + 2_000);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage({ type: 'drain', graceMs } satisfies ToWorker);
    }));
    await Promise.all(exits);
  }

  async close(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.slots.map((slot) => slot.worker?.terminate()));
  }
}

interface Reservation {
  port: number;
  release(): Promise<void>;
}

/**
 * A port for the workers. A given port is bound alone (without SO_REUSEPORT, so any listener
 * already there makes it fail with EADDRINUSE, as a single process would) and let go for them.
 * Port 0 is bound with SO_REUSEPORT and held until the workers listen beside it: let go at once,
 * the kernel could hand the same port to any other socket before they bind it (a client's source
 * port makes them fail; another instance's workers would share its connections).
 */
async function reserve(host: string, port: number): Promise<Reservation> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, reusePort: port === 0 }, () => resolve());
  });
  const reserved = (server.address() as AddressInfo).port;
  const release = () => new Promise<void>((resolve) => server.close(() => resolve()));
  if (port === 0) return { port: reserved, release };
  await release();
  return { port: reserved, release: async () => {} };
}

function notAfterSeconds(certPem: string): number {
  return Date.parse(new X509Certificate(certPem).validTo) / 1000;
}
