import { performance } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';
import type { Attempt, AttemptOutcome, ForwardEngine } from './types.ts';
import type { UpstreamKeepalive } from '../../table/server-settings.ts';
import { failureOf } from './types.ts';
import { downstreamHeaders } from '../headers.ts';
import { RequestBody } from '../request-body.ts';

const DIGITS = /^\d{1,15}$/;

/**
 * The default engine: one undici Pool per endpoint (and connect timeout), keep-alive as the
 * ConfigMap's upstream-keepalive-* say, driven through `dispatch` so the response streams to the client with
 * backpressure and without an intermediate stream.
 */
export class UndiciEngine implements ForwardEngine {
  /** By endpoint key, then by scheme and connect timeout (a pool has one of each). */
  private readonly pools = new Map<string, Map<string, Pool>>();
  /** ingress-nginx's upstream-keepalive-timeout and -requests until the ConfigMap says otherwise. */
  private keepalive: UpstreamKeepalive = { enabled: true, idleTimeoutMs: 60_000, maxRequests: 10_000 };

  configure(keepalive: UpstreamKeepalive): void {
    const k = this.keepalive;
    if (k.enabled === keepalive.enabled && k.idleTimeoutMs === keepalive.idleTimeoutMs && k.maxRequests === keepalive.maxRequests) return;
    this.keepalive = keepalive;
    for (const byOptions of this.pools.values()) for (const pool of byOptions.values()) void pool.close();
    this.pools.clear();
  }

  private pool(a: Attempt): Pool {
    let byOptions = this.pools.get(a.endpoint.key);
    if (!byOptions) this.pools.set(a.endpoint.key, (byOptions = new Map()));
    const key = `${a.tls ? 'https' : 'http'}/${a.connectTimeoutMs}`;
    let pool = byOptions.get(key);
    if (!pool) {
      const host = a.endpoint.address.includes(':') ? `[${a.endpoint.address}]` : a.endpoint.address;
      pool = new Pool(`${a.tls ? 'https' : 'http'}://${host}:${a.endpoint.port}`, {
        keepAliveTimeout: this.keepalive.idleTimeoutMs,
        // A pod's Keep-Alive: timeout=… hint may shorten the idle time, never lengthen it.
        keepAliveMaxTimeout: this.keepalive.idleTimeoutMs,
        ...(this.keepalive.maxRequests > 0 ? { maxRequestsPerClient: this.keepalive.maxRequests } : {}),
        pipelining: 1,
        // backend-protocol HTTPS: like nginx's proxy_pass https:// default, no verification of the pod's certificate.
        connect: { timeout: a.connectTimeoutMs, rejectUnauthorized: false },
      });
      byOptions.set(key, pool);
    }
    return pool;
  }

  forward(a: Attempt): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      const handler = new AttemptHandler(a, resolve);
      this.pool(a).dispatch({
        method: a.method,
        path: a.path,
        headers: a.headers,
        body: a.body,
        headersTimeout: a.readTimeoutMs,
        bodyTimeout: a.readTimeoutMs,
        // upstream-keepalive-connections: 0: one request per connection.
        reset: !this.keepalive.enabled,
      }, handler);
    });
  }

  retain(endpoints: ReadonlySet<string>): void {
    for (const [endpoint, byOptions] of this.pools) {
      if (endpoints.has(endpoint)) continue;
      this.pools.delete(endpoint);
      for (const pool of byOptions.values()) void pool.close(); // lets requests in flight finish
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].flatMap((byOptions) => [...byOptions.values()].map((p) => p.destroy())));
    this.pools.clear();
  }
}

/**
 * undici checks response timeouts on a clock that ticks about every half second, so a timeout
 * under a second (an HTTPRoute's `500ms`) could fire up to a second late; such a one gets a timer
 * of its own for the headers. ingress-nginx's timeouts are whole seconds and never need it.
 */
const COARSE_TIMEOUT_MS = 1000;

/**
 * One attempt's undici handler: streams the pod's answer to the client and settles the attempt's
 * outcome once (responded, intercepted, or failed before a response). One object per attempt,
 * its methods shared; the only closure is the listener for the client's close.
 */
class AttemptHandler implements Dispatcher.DispatchHandler {
  private readonly a: Attempt;
  private readonly res: Attempt['res'];
  private readonly settle: (outcome: AttemptOutcome) => void;
  private readonly started = performance.now();
  private controller: Dispatcher.DispatchController | undefined;
  private responded = false;
  private requestSent = false;
  /** Bytes of the pod's Content-Length still to come: the last chunk ends the response in the same call (one write, no uncork tick). */
  private bodyLeft = -1;
  private ended = false;
  private headersTimer: NodeJS.Timeout | undefined;

  constructor(a: Attempt, settle: (outcome: AttemptOutcome) => void) {
    this.a = a;
    this.res = a.res;
    this.settle = settle;
    this.res.on('close', this.clientGone);
  }

  /** The client went away: stop the pod's answer unless it was all written. */
  private readonly clientGone = (): void => {
    if (!this.res.writableFinished) this.controller?.abort(new Error('client closed the connection'));
  };

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.controller = c;
    if (this.a.record) this.a.record.connectMs = performance.now() - this.started;
    if (this.res.destroyed) c.abort(new Error('client closed the connection'));
  }

  onRequestSent(): void {
    this.requestSent = true;
    if (this.a.readTimeoutMs < COARSE_TIMEOUT_MS) this.headersTimer = setTimeout(this.headersLate, this.a.readTimeoutMs);
  }

  /** A timeout shorter than undici's clock can tell: the pod's headers did not come in time. */
  private readonly headersLate = (): void => {
    this.controller?.abort(Object.assign(new Error(`upstream sent no response headers within ${this.a.readTimeoutMs} ms`), { code: 'PORTICO_READ_TIMEOUT' }));
  };

  onResponseStart(c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    if (status < 200) return; // 1xx: Node answers the client's Expect itself
    if (this.headersTimer) clearTimeout(this.headersTimer);
    const a = this.a;
    // Settle before aborting: the abort reports an error synchronously, which must not win.
    if (a.failOnStatus.has(status)) {
      this.settle({ kind: 'failed', failure: 'upstream-status', requestSent: true });
      c.abort(new Error(`upstream answered ${status}`));
      return;
    }
    if (a.interceptStatus?.has(status)) {
      this.settle({ kind: 'intercepted', status });
      c.abort(new Error(`upstream answered ${status}, answered by the error backend`));
      return;
    }
    this.responded = true;
    const length = headers['content-length'];
    if (typeof length === 'string' && DIGITS.test(length)) this.bodyLeft = Number(length);
    this.res.writeHead(status, downstreamHeaders(headers, status, a.changes, a.backendServerHeader, a.ownHeaders));
    const record = a.record;
    if (record) {
      record.status = status;
      record.headerMs = performance.now() - this.started;
    }
    this.settle({ kind: 'responded', status });
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    const record = this.a.record;
    if (record) record.bytes = (record.bytes ?? 0) + chunk.length;
    this.bodyLeft -= chunk.length;
    if (this.bodyLeft === 0) {
      this.ended = true;
      this.res.end(chunk);
      return;
    }
    if (!this.res.write(chunk)) {
      c.pause();
      this.res.once('drain', () => c.resume());
    }
  }

  onResponseEnd(): void {
    this.res.off('close', this.clientGone);
    if (!this.ended) this.res.end();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.headersTimer) clearTimeout(this.headersTimer);
    const res = this.res;
    res.off('close', this.clientGone);
    if (this.responded) {
      // Mid-body failure (read timeout, reset): the status is out, so close the connection.
      res.destroy(err);
      return;
    }
    const body = this.a.body;
    const bodyFailure = body instanceof RequestBody ? body.failure : undefined;
    const cause = bodyFailure ?? err;
    this.settle({ kind: 'failed', failure: res.destroyed && !bodyFailure ? 'client-gone' : failureOf(cause as Error & { code?: string }), requestSent: this.requestSent, error: cause });
  }
}
