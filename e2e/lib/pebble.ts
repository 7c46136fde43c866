import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './cluster.ts';
import { daemon, run, stopProcess, waitUntil } from './exec.ts';

/**
 * Let's Encrypt's test ACME server, with pebble-challtestsrv as its DNS server resolving every
 * name to 127.0.0.1, so HTTP-01 validation really connects to Portico's HTTP listener.
 */
export class Pebble {
  directoryUrl = '';
  /** The root that signs the certificates pebble issues (random per start). */
  rootPem = '';
  private pebble: ChildProcess | undefined;
  private dns: ChildProcess | undefined;
  private readonly dir: string;
  private readonly bin: string;

  constructor(dir: string, bin: string) {
    this.dir = dir;
    this.bin = bin;
  }

  /** `ca` signs pebble's own listener certificate; `httpPort` is where it validates HTTP-01. */
  async start(ca: { crt: string; key: string }, httpPort: number): Promise<void> {
    const d = this.dir;
    await writeFile(join(d, 'pebble.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
    await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=pebble', '-keyout', join(d, 'pebble.key'), '-out', join(d, 'pebble.csr')]);
    await run('openssl', ['x509', '-req', '-in', join(d, 'pebble.csr'), '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-days', '30', '-extfile', join(d, 'pebble.ext'), '-out', join(d, 'pebble.crt')]);
    const [port, management, dnsPort, dnsManagement, tlsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    await writeFile(join(d, 'pebble.json'), JSON.stringify({ pebble: {
      listenAddress: `127.0.0.1:${port}`, managementListenAddress: `127.0.0.1:${management}`,
      certificate: join(d, 'pebble.crt'), privateKey: join(d, 'pebble.key'),
      httpPort, tlsPort, ocspResponderURL: '', externalAccountBindingRequired: false,
      retryAfter: { authz: 1, order: 1 }, keyAlgorithm: 'ecdsa',
    } }));
    this.dns = daemon(join(this.bin, 'pebble-challtestsrv'), [
      '-management', `127.0.0.1:${dnsManagement}`, '-dnsserver', `127.0.0.1:${dnsPort}`,
      '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-http01', '', '-https01', '', '-tlsalpn01', '', '-doh', '',
    ], join(d, 'challtestsrv.log'));
    this.pebble = daemon(join(this.bin, 'pebble'), ['-config', join(d, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], join(d, 'pebble.log'),
      { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' });
    this.directoryUrl = `https://127.0.0.1:${port}/dir`;
    await waitUntil('pebble', async () => (await run('curl', ['-fsS', '--cacert', ca.crt, this.directoryUrl])).includes('newOrder'), 30_000, 200);
    this.rootPem = await run('curl', ['-fsS', '--cacert', ca.crt, `https://127.0.0.1:${management}/roots/0`]);
    await writeFile(join(d, 'pebble-root.pem'), this.rootPem);
  }

  get rootFile(): string {
    return join(this.dir, 'pebble-root.pem');
  }

  async stop(): Promise<void> {
    await stopProcess(this.pebble);
    await stopProcess(this.dns);
  }
}
