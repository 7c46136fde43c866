// A manifest directory written by a careless operator (or an attacker with write access to it)
// must never take the process down, block reloads, stall requests or leak what files contain.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from './helpers/backends.ts';
import { echoed, send } from './helpers/http.ts';
import { INGRESS_CLASS, ingress, service } from './helpers/manifests.ts';
import { startPortico, waitFor, type RunningPortico } from './helpers/portico.ts';
import { PorticoCli } from './helpers/process.ts';

interface DiagnosticView { code: string; objectName: string; message: string }

describe('a manifest directory that cannot hurt the process', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  const diagnostics = async (): Promise<DiagnosticView[]> => (await fetch(`http://127.0.0.1:${portico.adminPort}/debug/diagnostics`)).json() as Promise<DiagnosticView[]>;
  const problemOf = async (file: string): Promise<DiagnosticView | undefined> => (await diagnostics()).find((d) => d.objectName.startsWith(`File ${file}`));
  const served = async (host: string): Promise<string> => echoed(await send(portico.httpPort, host, '/')).server;

  beforeAll(async () => {
    const one = { address: '127.0.10.1', port: await backends.echo('one', '127.0.10.1') };
    const two = { address: '127.0.10.2', port: await backends.echo('two', '127.0.10.2') };
    portico = await startPortico({
      'svc.yaml': `${service('one', [one])}---\n${service('two', [two])}`,
      'app.yaml': ingress({ name: 'app', host: 'app.test', service: 'one' }),
    }, 'undici', { maxManifestBytes: 1024 * 1024 });
  });

  afterAll(async () => {
    await portico?.stop();
    await backends.close();
  });

  it('keeps serving the last good version of a file with an unresolved alias or an alias bomb (F3)', async () => {
    await portico.apply('app.yaml', `${ingress({ name: 'app', host: 'app.test', service: 'one' })}---\nx: *typo\n`);
    expect(await served('app.test')).toBe('one');
    expect((await problemOf('app.yaml'))?.message).toContain('alias');
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
      .concat(['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)).join('\n');
    await portico.apply('app.yaml', bomb + '\n');
    expect(await served('app.test')).toBe('one');
    expect((await problemOf('app.yaml'))?.message).toContain('alias');
  });

  it('skips a FIFO with a diagnostic and goes on reloading (F5)', async () => {
    execFileSync('mkfifo', [join(portico.dir, 'fifo.yaml')]);
    await portico.apply('new.yaml', ingress({ name: 'new', host: 'new.test', service: 'two' }));
    expect(await served('new.test')).toBe('two');
    expect((await problemOf('fifo.yaml'))?.message).toContain('not a regular file (a FIFO)');
  });

  it('refuses symlinks that leave the directory, follows those that stay inside (F11)', async () => {
    await symlink('/etc/passwd', join(portico.dir, 'passwd.yaml'));
    await symlink('/dev/zero', join(portico.dir, 'zero.yaml'));
    await writeFile(join(portico.dir, '.real-inside.yaml'), ingress({ name: 'inside', host: 'inside.test', service: 'one' }));
    await symlink(join(portico.dir, '.real-inside.yaml'), join(portico.dir, 'inside.yaml'));
    await waitFor(async () => (await send(portico.httpPort, 'inside.test', '/')).status === 200, 'the symlinked Ingress');
    expect((await problemOf('passwd.yaml'))?.message).toContain('outside the manifests directory');
    expect((await problemOf('zero.yaml'))?.message).toContain('outside the manifests directory');
    expect(JSON.stringify(await diagnostics())).not.toContain('root:');
  });

  it('refuses a file over --max-manifest-bytes and keeps its last good version', async () => {
    await portico.apply('app.yaml', `${ingress({ name: 'app', host: 'app.test', service: 'two' })}#${'x'.repeat(2 * 1024 * 1024)}\n`);
    expect(await served('app.test')).toBe('one');
    expect((await problemOf('app.yaml'))?.message).toMatch(/is \d+ bytes, more than --max-manifest-bytes 1048576/);
  });

  it('never quotes the file in a parse error: a broken Secret does not leak its key (F10)', async () => {
    await portico.apply('secret.yaml', 'apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: QUJD\n  tls.key: "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBg"xyz\n');
    const problem = await problemOf('secret.yaml');
    expect(problem?.message).toMatch(/YAML syntax error at line 7, column \d+/);
    const everything = JSON.stringify(await diagnostics()) + await (await fetch(`http://127.0.0.1:${portico.adminPort}/debug/dashboard`)).text();
    expect(everything).not.toContain('MIIE');
    expect(everything).not.toContain('PRIVATE');
  });

  it('parses off the data plane: requests are answered while a large file is still being parsed (F6)', async () => {
    const before = portico.app.current!.generation;
    // 110,000 tiny documents (just under the 1 MiB limit): about half a second of parsing.
    await writeFile(join(portico.dir, 'many.yaml'), 'a: 1\n---\n'.repeat(110_000));
    const written = Date.now();
    // Requests answered with the old table, after the reload must have begun (50 ms debounce).
    const answeredDuringParse: number[] = [];
    while (portico.app.current!.generation === before) {
      expect(await served('app.test')).toBe('one');
      const at = Date.now() - written;
      if (at > 200 && portico.app.current!.generation === before) answeredDuringParse.push(at);
      if (at > 20_000) break;
    }
    // Had parsing run on the data plane's thread, no request could be answered while it ran:
    // the table swap follows the parse in the same turn of the event loop.
    expect(answeredDuringParse.length).toBeGreaterThan(0);
    expect(portico.app.current!.generation).toBeGreaterThan(before);
  }, 30_000);
});

describe('the process with a hostile manifest directory', () => {
  it('starts, serves and exits 0 on SIGTERM with an alias error and a FIFO present from the start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'portico-hostile-'));
    const backends = new BackendSet();
    const portico = new PorticoCli();
    try {
      const echo = { address: '127.0.10.5', port: await backends.echo('echo', '127.0.10.5') };
      await writeFile(join(dir, 'all.yaml'), [INGRESS_CLASS, service('echo', [echo]), ingress({ name: 'echo', host: 'echo.test', service: 'echo' })].join('---\n'));
      await writeFile(join(dir, 'typo.yaml'), 'x: *typo\n');
      execFileSync('mkfifo', [join(dir, 'fifo.yaml')]);
      await portico.start(dir, '--access-log', 'off', '--shutdown-delay', '0', '--shutdown-grace', '1');
      expect(echoed(await send(portico.httpPort, 'echo.test', '/')).server).toBe('echo');
      expect(await portico.stop('SIGTERM')).toBe(0);
    } finally {
      await portico.stop('SIGKILL');
      await backends.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
