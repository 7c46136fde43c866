import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RoutingTable } from '../table/types.ts';
import { Balancer } from './balancer.ts';
import { HttpProxyEngine } from './engines/http-proxy.ts';
import type { ForwardEngine } from './engines/types.ts';
import { endpointKey } from './engines/types.ts';
import { UndiciEngine } from './engines/undici.ts';
import { Proxy } from './proxy.ts';

export type EngineName = 'undici' | 'http-proxy';
export const ENGINES: readonly EngineName[] = ['undici', 'http-proxy'];

export interface DataPlaneOptions {
  host: string;
  port: number;
  engine: EngineName;
}

/**
 * The HTTP listener and the live table. `swap` replaces the table in one assignment;
 * each request reads `current` once, so it finishes with the table it started with.
 */
export class DataPlane {
  current: RoutingTable | undefined;
  private readonly server: Server;
  private readonly engine: ForwardEngine;
  private readonly upgrades = new HttpProxyEngine();
  private readonly options: DataPlaneOptions;
  private readonly tunnels = new Set<Duplex>();
  private readonly balancer = new Balancer();

  constructor(options: DataPlaneOptions) {
    this.options = options;
    this.engine = options.engine === 'http-proxy' ? this.upgrades : new UndiciEngine();
    const proxy = new Proxy(this, this.engine, this.balancer, { proto: 'http' }, (req, socket, head, target) => this.upgrades.upgrade(req, socket, head, target));
    this.server = createServer({ keepAliveTimeout: 75_000, headersTimeout: 60_000, requestTimeout: 0 }, proxy.handle);
    this.server.on('upgrade', (req, socket, head) => {
      // Upgraded connections leave the HTTP server's bookkeeping: track them for close().
      this.tunnels.add(socket);
      socket.once('close', () => this.tunnels.delete(socket));
      proxy.handleUpgrade(req, socket, head);
    });
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });
  }

  swap(table: RoutingTable): void {
    this.current = table;
    const live = new Set<string>();
    for (const backend of table.backends.values()) for (const e of backend.endpoints) live.add(endpointKey(e));
    this.engine.retain(live);
    this.balancer.retain(new Set(table.backends.keys()));
    if (this.engine !== this.upgrades) this.upgrades.retain(live);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      for (const socket of this.tunnels) socket.destroy();
    });
    await this.engine.close();
    if (this.engine !== this.upgrades) await this.upgrades.close();
  }
}
