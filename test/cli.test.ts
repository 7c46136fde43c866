// The command line as an operator meets it: help and version, one-line errors naming the flag
// (exit 2), ingress-nginx flags taken under their names or refused with a hint.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { duration } from '../src/cli.ts';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const MANIFESTS = fileURLToPath(new URL('../examples/manifests', import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function portico(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const oneLine = (r: { stderr: string }) => r.stderr.trimEnd().split('\n');

describe('portico CLI', () => {
  it('prints help per command and the version', async () => {
    const help = await portico(['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--manifests <path>');
    expect(help.stdout).toContain('--configmap <ns/name>');
    const [flag, command] = await Promise.all([portico(['--version']), portico(['version'])]);
    expect([flag.code, flag.stdout, command.stdout]).toEqual([0, `${VERSION}\n`, `${VERSION}\n`]);
  });

  it('refuses bad input in one line naming the flag, with exit status 2', async () => {
    const results = await Promise.all([
      portico(['serve', '--manifests', '/nonexistent/dir']),
      portico(['serve', '--manifests', MANIFESTS, '--http-port', '99999']),
      portico(['serve', '--manifests', MANIFESTS, '--shutdown-delay', 'soon']),
      portico(['controller', '--kubeconfig', '/nonexistent/kubeconfig']),
      portico(['controller'], { HOME: '/nonexistent', KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' }),
      portico(['controller', '--enable-ssl-passthrough']),
      portico(['serve', '--manifests', MANIFESTS, '--manifest']),
      portico(['serve', '--manifests', MANIFESTS, '--extra-ca-certs', '/nonexistent/ca.pem']),
      portico(['serve', '--manifests', MANIFESTS, '--extra-ca-certs', CLI]),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 2]);
    expect(results.map((r) => oneLine(r))).toEqual([
      ['portico: --manifests: /nonexistent/dir does not exist'],
      ['portico: --http-port: "99999" is not a port number'],
      ['portico: --shutdown-delay: "soon" is not a duration (30, 30s, 1m30s, 500ms)'],
      ['portico: --kubeconfig: cannot read /nonexistent/kubeconfig (ENOENT)'],
      ['portico: --kubeconfig: no kubeconfig found (none given, KUBECONFIG unset, no ~/.kube/config) and not running in a pod'],
      ['portico: --enable-ssl-passthrough is an ingress-nginx flag Portico does not have: Portico proxies HTTP and HTTPS only (no TCP/UDP streams, no TLS passthrough)'],
      ["portico: unknown option '--manifest' (Did you mean --manifests?)"],
      ['portico: --extra-ca-certs: cannot read /nonexistent/ca.pem (ENOENT)'],
      [`portico: --extra-ca-certs: ${CLI} holds no PEM certificate`],
    ]);
  });

  it('names the flag whose port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const r = await portico(['serve', '--manifests', MANIFESTS, '--listen-address', '127.0.0.1', '--http-port', '0', '--https-port', '0', '--admin-address', '127.0.0.1', '--healthz-port', String(port), '--access-log', 'off']);
    taken.close();
    expect(r.code).toBe(2);
    expect(oneLine(r)).toEqual([`portico: --admin-port: 127.0.0.1:${port} is already in use`]);
  });

  it('reads durations as ingress-nginx writes them, and plain seconds', () => {
    expect(['5', '1.5', '5s', '1m', '1m30s', '250ms', '1h'].map((v) => duration(v, '--x'))).toEqual([5000, 1500, 5000, 60_000, 90_000, 250, 3_600_000]);
    expect(() => duration('-1', '--x')).toThrow('--x: "-1" is not a duration');
    expect(() => duration('99999999s', '--x')).toThrow('longer than');
  });
});
