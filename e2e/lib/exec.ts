import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs a command, returns stdout; throws with stderr on a non-zero exit. */
/** `withStderr`: the result is stdout followed by stderr (kubectl prints warnings there). */
export async function run(cmd: string, args: string[], o: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; withStderr?: boolean; cwd?: string } = {}): Promise<string> {
  if (o.input !== undefined) {
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { env: o.env ?? process.env, cwd: o.cwd });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (err += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(o.withStderr ? out + err : out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
      child.stdin.end(o.input);
    });
  }
  try {
    const { stdout } = await execFileAsync(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, timeout: o.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr || e.message}`);
  }
}

/** A long-running child whose output goes to a log file; stopped by PID. */
export function daemon(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  return child;
}

/**
 * A long-running child whose output goes to a log file the way the kubelet keeps a container's
 * (the CRI format: `<RFC 3339 time> <stream> F <line>`), so its lines can be served by time.
 */
export function criLoggedDaemon(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const out = createWriteStream(logFile, { flags: 'a' });
  let open = 2;
  for (const stream of ['stdout', 'stderr'] as const) {
    let partial = '';
    child[stream]!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      const time = new Date().toISOString();
      for (const line of lines) out.write(`${time} ${stream} F ${line}\n`);
    });
    child[stream]!.on('end', () => {
      if (partial) out.write(`${new Date().toISOString()} ${stream} F ${partial}\n`);
      if (--open === 0) out.end();
    });
  }
  return child;
}

export async function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000, intervalMs = 50): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      if (await check()) return Date.now() - start;
    } catch { /* not yet */ }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
