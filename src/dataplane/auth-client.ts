import { LRUCache } from 'lru-cache';
import { Pool } from 'undici';

/** The auth service's answer: its status and headers (its body is never used, as with nginx's auth_request). */
export interface AuthReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

const KEEP_ALIVE_MS = 60_000;
/** Auth services Portico keeps connections to; the least recently used beyond this are closed. */
const MAX_POOLS = 256;

/**
 * Requests to auth services (`auth-url`): undici, as for the pods, with a keep-alive pool per
 * origin and the route's connect and read timeouts. A failure to reach the service is an
 * answer too (`undefined`): the request then gets 500, never the backend.
 */
export class AuthClient {
  private readonly pools = new LRUCache<string, Pool>({ max: MAX_POOLS, dispose: (pool) => void pool.close() });

  async ask(url: URL, method: string, headers: Record<string, string | string[]>, connectTimeoutMs: number, readTimeoutMs: number): Promise<AuthReply | undefined> {
    const key = `${url.origin} ${connectTimeoutMs}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(url.origin, { keepAliveTimeout: KEEP_ALIVE_MS, connect: { timeout: connectTimeoutMs, rejectUnauthorized: false } });
      this.pools.set(key, pool);
    }
    try {
      const reply = await pool.request({ method, path: url.pathname + url.search, headers, headersTimeout: readTimeoutMs, bodyTimeout: readTimeoutMs });
      await reply.body.dump({ limit: 64 * 1024 });
      return { status: reply.statusCode, headers: reply.headers };
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy()));
  }
}
