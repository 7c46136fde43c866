import { Agent, request } from 'node:http';

export interface TrafficReport {
  sent: number;
  failed: number;
  /** Non-200 statuses and errors, first few, for the assertion message. */
  failures: string[];
  /** How many answers each pod gave (the echo backend says who it is). */
  servedBy: Record<string, number>;
  /** When each pod first answered, relative to the start. */
  firstSeenAt: Record<string, number>;
}

/**
 * A steady stream of requests (a few keep-alive clients in parallel) until stopped, counting
 * every answer that is not a 200 from a pod. Bounded: it stops by itself after `maxMs`.
 */
export class TrafficStream {
  readonly report: TrafficReport = { sent: 0, failed: 0, failures: [], servedBy: {}, firstSeenAt: {} };
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  private readonly started = Date.now();

  constructor(port: number, host: string, path: string, clients = 4, maxMs = 120_000) {
    for (let i = 0; i < clients; i++) this.loops.push(this.loop(port, host, path, maxMs));
  }

  private async loop(port: number, host: string, path: string, maxMs: number): Promise<void> {
    while (!this.stopped && Date.now() - this.started < maxMs) {
      this.report.sent++;
      try {
        const { status, servedBy } = await this.once(port, host, path);
        if (status !== 200) this.fail(`status ${status}`);
        else if (servedBy) {
          this.report.servedBy[servedBy] = (this.report.servedBy[servedBy] ?? 0) + 1;
          this.report.firstSeenAt[servedBy] ??= Date.now() - this.started;
        }
      } catch (err) {
        this.fail((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  private fail(why: string): void {
    this.report.failed++;
    if (this.report.failures.length < 10) this.report.failures.push(why);
  }

  private once(port: number, host: string, path: string): Promise<{ status: number; servedBy: string | undefined }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: this.agent, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, servedBy: res.headers['x-served-by'] as string | undefined }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
  }

  /** Milliseconds since the stream started. */
  elapsed(): number {
    return Date.now() - this.started;
  }

  async stop(): Promise<TrafficReport> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.agent.destroy();
    return this.report;
  }
}
