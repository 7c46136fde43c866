import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { startEchoBackend } from '../../examples/echo-backend.ts';

export { startEchoBackend };

/** Backends that misbehave on purpose, each on its own loopback address. */
export class BackendSet {
  private readonly servers: (Server | TcpServer)[] = [];
  private readonly sockets = new Set<import('node:net').Socket>();

  private track<T extends Server | TcpServer>(server: T): T {
    server.on('connection', (socket: import('node:net').Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.servers.push(server);
    return server;
  }
  private readonly children: ChildProcess[] = [];

  /** The server listening on a port, to attach extra behaviour (an upgrade handler) in a test. */
  serverOn(port: number): Server {
    return this.servers.find((s) => (s.address() as AddressInfo).port === port) as Server;
  }

  async echo(name: string, host: string): Promise<number> {
    const b = await startEchoBackend(name, host);
    this.track(b.server);
    return b.port;
  }

  async http(host: string, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
    const server = this.track(createServer(handler));
    await new Promise<void>((r) => server.listen(0, host, r));
    return (server.address() as AddressInfo).port;
  }

  /** Accepts the connection and reads the request, then resets it: the request was sent. */
  async resetAfterRequest(host: string, onRequest: () => void): Promise<number> {
    const server = this.track(createTcpServer((socket) => {
      socket.once('data', () => {
        onRequest();
        socket.resetAndDestroy();
      });
    }));
    await new Promise<void>((r) => server.listen(0, host, r));
    return (server.address() as AddressInfo).port;
  }

  /**
   * A port nobody listens on: connections are refused. A privileged port, because the kernel never
   * hands one out for port 0: an ephemeral port reserved and closed here could be given to another
   * test file's server on the same address, which would then answer for the "refused" backend.
   */
  async closedPort(host: string): Promise<number> {
    const port = 9;
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port }, () => { socket.destroy(); resolve(false); });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (!refused) throw new Error(`something listens on ${host}:${port}; a test needs it closed`);
    return port;
  }

  /**
   * A listening socket whose accept queue is full, so new connections hang in SYN-SENT
   * until the connect timeout. Node always accepts, so a tiny Python process holds it.
   */
  async blackhole(host: string): Promise<number> {
    const script = `import socket, sys, time
s = socket.socket(); s.bind((${JSON.stringify(host)}, 0)); s.listen(0)
fill = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    fill.append(c)
time.sleep(0.2)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
`;
    const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.children.push(child);
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once('error', reject);
    });
    return port;
  }

  async close(): Promise<void> {
    for (const c of this.children) c.kill();
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
