import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { daemon, stopProcess, waitUntil } from './exec.ts';
import { freePort } from './cluster.ts';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/** Portico in controller mode, in the root namespace like a hostNetwork pod, as its own process. */
export class PorticoProcess {
  httpPort = 0;
  httpsPort = 0;
  adminPort = 0;
  readonly logFile: string;
  private child: ChildProcess | undefined;
  private readonly args: string[];

  constructor(logDir: string, name: string, args: string[], httpPort = 0) {
    this.logFile = join(logDir, `${name}.log`);
    this.args = args;
    this.httpPort = httpPort;
  }

  async start(): Promise<void> {
    this.httpPort ||= await freePort();
    this.httpsPort = await freePort();
    this.adminPort = await freePort();
    this.child = daemon(process.execPath, [
      CLI, 'controller', '--listen-address', '127.0.0.1', '--http-port', String(this.httpPort), '--https-port', String(this.httpsPort),
      '--admin-port', String(this.adminPort), ...this.args,
    ], this.logFile, { ...process.env, PORTICO_LOG_LEVEL: 'debug' });
    await waitUntil('portico /readyz', async () => (await fetch(`http://127.0.0.1:${this.adminPort}/readyz`)).ok, 60_000, 100);
  }

  async readyz(): Promise<{ status: number; text: string }> {
    const r = await fetch(`http://127.0.0.1:${this.adminPort}/readyz`);
    return { status: r.status, text: await r.text() };
  }

  async log(): Promise<string> {
    return readFile(this.logFile, 'utf8');
  }

  async stop(): Promise<void> {
    await stopProcess(this.child);
  }
}
