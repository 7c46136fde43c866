import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './portico.ts';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/** `portico serve` as its own process, as an operator runs it: stdout lines collected, ports read from its log. */
export class PorticoCli {
  readonly lines: string[] = [];
  httpPort = 0;
  adminPort = 0;
  child: ChildProcess | undefined;
  exitCode: number | null | undefined;

  /** One worker thread unless `flags` say otherwise (the last `--workers` wins): the suite shares the machine's cores. */
  async start(manifests: string, ...flags: string[]): Promise<void> {
    this.child = spawn(process.execPath, [CLI, 'serve', '--manifests', manifests, '--listen-address', '127.0.0.1', '--http-port', '0', '--https-port', 'off', '--admin-port', '0', '--workers', '1', ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
    let partial = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      const text = partial + d.toString();
      const parts = text.split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
    });
    this.child.once('exit', (code) => (this.exitCode = code));
    // A process that loads the sources and starts its threads on a machine busy with the other test
    // files can take seconds; one that exited will never serve.
    await waitFor(() => this.exitCode !== undefined || this.lines.some((l) => l.includes('"portico serving"')), 'portico to serve', 15_000);
    if (this.exitCode !== undefined) throw new Error(`portico exited with ${this.exitCode} before serving`);
    const serving = JSON.parse(this.lines.find((l) => l.includes('"portico serving"'))!);
    this.httpPort = serving.httpPort;
    this.adminPort = serving.adminPort;
  }

  /** JSON lines that are access log entries. */
  accessLog(): Record<string, unknown>[] {
    return this.lines.filter((l) => l.includes('"request_id"')).map((l) => JSON.parse(l));
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.child || this.exitCode !== undefined) return this.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => this.child!.once('exit', (code) => resolve(code)));
    this.child.kill(signal);
    return exited;
  }
}

/** One value of Portico's /metrics (the first series of that name). */
export async function metric(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + '{') || l.startsWith(name + ' '));
  return Number(line?.slice(line.lastIndexOf(' ') + 1));
}
