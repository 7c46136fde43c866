import { Agent, type Dispatcher } from 'undici';
import type { RequestMirror } from '../table/types.ts';
import type { HeaderPairs } from './headers.ts';

/** Mirrored requests in flight per thread; past this, requests are not mirrored until some finish. */
const MAX_IN_FLIGHT = 256;
const KEEP_ALIVE_MS = 60_000;
const TIMEOUT_MS = 60_000;
/** ingress-nginx's proxy-connect-timeout default. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * HTTPRoute RequestMirror: a copy of the request (the method, path and headers the pod gets, and a
 * body Portico has read whole) sent to one ready endpoint of each mirror backend, for its share of
 * requests; the answers are read and dropped, and a failure changes nothing for the client. A body
 * still streaming to the pod is not mirrored (it cannot be sent twice without holding it all).
 */
export class RequestMirrors {
  private agent: Agent | undefined;
  private inFlight = 0;
  private readonly random: () => number;

  constructor(random: () => number = Math.random) {
    this.random = random;
  }

  send(mirrors: readonly RequestMirror[], method: string, path: string, headers: HeaderPairs, body: Buffer | null): void {
    for (const mirror of mirrors) {
      if (this.inFlight >= MAX_IN_FLIGHT) return;
      if (mirror.percent < 100 && this.random() * 100 >= mirror.percent) continue;
      const endpoints = mirror.backend.endpoints;
      const endpoint = endpoints[Math.floor(this.random() * endpoints.length)];
      if (!endpoint) continue;
      const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
      this.agent ??= new Agent({ keepAliveTimeout: KEEP_ALIVE_MS, connect: { timeout: CONNECT_TIMEOUT_MS } });
      this.inFlight++;
      const options: Dispatcher.RequestOptions = { origin: `http://${host}:${endpoint.port}`, method: method as Dispatcher.HttpMethod, path, headers, body, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS };
      this.agent.request(options)
        .then((reply) => reply.body.dump())
        .catch(() => {})
        .finally(() => this.inFlight--);
    }
  }

  async close(): Promise<void> {
    await this.agent?.destroy();
    this.agent = undefined;
  }
}
