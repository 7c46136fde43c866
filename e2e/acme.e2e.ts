// TLS and ACME against real parts: Secrets through the API server, certificates issued by
// pebble (Let's Encrypt's test server) with real HTTP-01 validation against Portico's HTTP
// listener, two Portico replicas sharing the work, and curl checking what is served.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnvironment, type Environment } from './lib/environment.ts';
import { run, waitUntil } from './lib/exec.ts';
import { freePort } from './lib/cluster.ts';
import { ingress, namespace, serviceWithEndpoints } from './lib/kube.ts';
import { Pebble } from './lib/pebble.ts';
import { PorticoProcess } from './lib/portico.ts';

const results: Record<string, unknown> = {};

describe('TLS and ACME on a real API server', () => {
  let env: Environment;
  let pebble: Pebble;
  let a: PorticoProcess;
  let b: PorticoProcess;
  const caFile = () => join(env.cluster.dir, 'ca.crt');
  /** curl https://host:port/ resolved to 127.0.0.1, verifying the served chain against `ca`. */
  const curlTls = (p: PorticoProcess, host: string, ca: string, ...extra: string[]) =>
    run('curl', ['-sS', '-m', '10', '--resolve', `${host}:${p.httpsPort}:127.0.0.1`, '--cacert', ca, '-o', '/dev/null', '-w', '%{http_code}', ...extra, `https://${host}:${p.httpsPort}/`]);

  beforeAll(async () => {
    env = await startEnvironment(78);
    const pod = await env.network.startPod('secure-0');
    // Replica a listens where pebble validates HTTP-01; replica b elsewhere. Either may order.
    const httpA = await freePort();
    pebble = new Pebble(env.dir, env.bin);
    await pebble.start({ crt: caFile(), key: join(env.cluster.dir, 'ca.key') }, httpA);
    const args = ['--kubeconfig', env.cluster.porticoKubeconfig, '--publish-address', env.network.gateway, '--election-namespace', 'portico-system'];
    a = new PorticoProcess(env.dir, 'portico-a', args, httpA);
    b = new PorticoProcess(env.dir, 'portico-b', args);
    await Promise.all([a.start(), b.start()]);
    await env.kubectl.apply(namespace('shop'));
    await env.kubectl.apply(serviceWithEndpoints('shop', 'web', [{ ip: pod.ip, port: pod.port, name: pod.name }]));
  }, 50 * 60_000);

  afterAll(async () => {
    console.log('e2e ACME measurements:', JSON.stringify(results, null, 2));
    await writeFile(join(env?.dir ?? '.', 'acme-results.json'), JSON.stringify(results, null, 2)).catch(() => {});
    await a?.stop();
    await b?.stop();
    await pebble?.stop();
    await env?.tearDown();
  });

  it('refuses malformed ACMEIssuers at kubectl apply time', async () => {
    const issuer = (directoryURL: string, email: string) => `apiVersion: portico.dev/v1alpha1
kind: ACMEIssuer
metadata: {name: bad}
spec: {directoryURL: "${directoryURL}", email: "${email}", privateKeySecretRef: {name: bad-account}}
`;
    await expect(env.kubectl.apply(issuer('http://insecure.example/dir', 'ops@example.com'))).rejects.toThrow(/spec.directoryURL/);
    await expect(env.kubectl.apply(issuer('https://acme.example/dir', 'not-an-email'))).rejects.toThrow(/spec.email/);
    await expect(env.kubectl.apply('apiVersion: portico.dev/v1alpha1\nkind: ACMEIssuer\nmetadata: {name: bad}\nspec: {email: ops@example.com}\n')).rejects.toThrow(/directoryURL: Required value/);
  });

  it('registers the ACME account and shows it in kubectl get acmeissuers', async () => {
    const ca = (await run('cat', [caFile()])).split('\n').map((l) => `    ${l}`).join('\n');
    await env.kubectl.apply(`apiVersion: portico.dev/v1alpha1
kind: ACMEIssuer
metadata: {name: pebble}
spec:
  directoryURL: ${pebble.directoryUrl}
  email: ops@example.com
  default: true
  privateKeySecretRef: {name: pebble-account}
  caBundle: |
${ca}
`);
    await waitUntil('the issuer to be registered', async () => (await env.kubectl.kubectl('get', 'acmeissuer', 'pebble', '-o', 'jsonpath={.status.registered}')) === 'true', 60_000, 250);
    const table = await env.kubectl.kubectl('get', 'acmeissuers');
    expect(table).toMatch(/pebble\s+true\s+https:\/\/127\.0\.0\.1/);
    expect(await env.kubectl.kubectl('get', 'secret', 'pebble-account', '-n', 'portico-system', '-o', 'jsonpath={.type}')).toBe('Opaque');
  });

  it('obtains a certificate over HTTP-01 for an annotated Ingress, once across two replicas, and serves it', async () => {
    const started = Date.now();
    await env.kubectl.apply(ingress('shop', 'shop', 'shop.e2e.test', 'web', { annotations: { 'portico.dev/acme-issuer': 'pebble' }, tls: { hosts: ['shop.e2e.test'], secretName: 'shop-tls' } }));
    await waitUntil('the issued certificate served by replica a', async () => (await curlTls(a, 'shop.e2e.test', pebble.rootFile)) === '200', 120_000, 100);
    results['acmeApplyToValidCertificateMs'] = Date.now() - started;
    // Replica b got the same Secret through its watch.
    await waitUntil('replica b to serve it too', async () => (await curlTls(b, 'shop.e2e.test', pebble.rootFile)) === '200', 30_000, 100);
    expect(await env.kubectl.kubectl('get', 'secret', 'shop-tls', '-n', 'shop', '-o', 'jsonpath={.type}')).toBe('kubernetes.io/tls');
    const orders = ((await a.log()) + (await b.log())).split('\n').filter((l) => l.includes('ordering a certificate over ACME'));
    expect(orders).toHaveLength(1);
    const events = await env.kubectl.kubectl('get', 'events', '-n', 'shop', '--field-selector', 'involvedObject.name=shop');
    expect(events).toMatch(/Normal\s+CertificateIssued/);
  });

  it('uses the default issuer for kubernetes.io/tls-acme: "true"', async () => {
    await env.kubectl.apply(ingress('shop', 'legacy', 'legacy.e2e.test', 'web', { annotations: { 'kubernetes.io/tls-acme': 'true' }, tls: { hosts: ['legacy.e2e.test'], secretName: 'legacy-tls' } }));
    await waitUntil('the legacy-annotated certificate', async () => (await curlTls(a, 'legacy.e2e.test', pebble.rootFile)) === '200', 120_000, 100);
  });

  it('shows an issuer whose directory cannot be reached as not registered, with the error', async () => {
    await env.kubectl.apply(`apiVersion: portico.dev/v1alpha1
kind: ACMEIssuer
metadata: {name: unreachable}
spec: {directoryURL: "https://127.0.0.1:9/dir", email: ops@example.com, privateKeySecretRef: {name: unreachable-account}}
`);
    await waitUntil('the issuer error', async () => (await env.kubectl.kubectl('get', 'acmeissuer', 'unreachable', '-o', 'jsonpath={.status.lastError}')).length > 0, 30_000, 250);
    expect(await env.kubectl.kubectl('get', 'acmeissuer', 'unreachable', '-o', 'jsonpath={.status.registered}')).toBe('false');
    expect(await env.kubectl.kubectl('get', 'acmeissuer', 'unreachable', '-o', 'jsonpath={.status.lastError}')).toMatch(/ECONNREFUSED|connect/);
  });

  it('reports an order that cannot succeed as a Warning Event on the Ingress, and keeps the host serving', async () => {
    await env.kubectl.apply(ingress('shop', 'orphan', 'orphan.e2e.test', 'web', { annotations: { 'portico.dev/acme-issuer': 'nope' }, tls: { hosts: ['orphan.e2e.test'], secretName: 'orphan-tls' } }));
    const events = () => env.kubectl.kubectl('get', 'events', '-n', 'shop', '--field-selector', 'involvedObject.name=orphan,reason=CertificateOrderFailed', '-o', 'jsonpath={.items[*].message}');
    await waitUntil('the Warning Event', async () => (await events()).includes('ACMEIssuer "nope" does not exist'), 30_000, 200);
    // The host still serves, with the default certificate, over HTTPS (curl -k: not verifiable).
    expect(await run('curl', ['-sS', '-k', '--resolve', `orphan.e2e.test:${a.httpsPort}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_code}', `https://orphan.e2e.test:${a.httpsPort}/`])).toBe('200');
  });

  it('serves certificates from Secrets by SNI (two hosts and a wildcard), redirects with 308 and sends HSTS', async () => {
    const d = env.dir;
    for (const [name, san] of [['one', 'DNS:one.e2e.test'], ['two', 'DNS:two.e2e.test'], ['wild', 'DNS:*.wild.e2e.test']] as const) {
      await writeFile(join(d, `${name}.ext`), `basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
      await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', join(d, `${name}.key`), '-out', join(d, `${name}.csr`)]);
      await run('openssl', ['x509', '-req', '-in', join(d, `${name}.csr`), '-CA', caFile(), '-CAkey', join(env.cluster.dir, 'ca.key'), '-CAcreateserial', '-days', '2', '-extfile', join(d, `${name}.ext`), '-out', join(d, `${name}.crt`)]);
      await env.kubectl.kubectl('create', 'secret', 'tls', `${name}-tls`, '-n', 'shop', '--cert', join(d, `${name}.crt`), '--key', join(d, `${name}.key`));
    }
    await env.kubectl.apply([
      ingress('shop', 'one', 'one.e2e.test', 'web', { tls: { hosts: ['one.e2e.test'], secretName: 'one-tls' } }),
      ingress('shop', 'two', 'two.e2e.test', 'web', { tls: { hosts: ['two.e2e.test'], secretName: 'two-tls' }, annotations: { 'portico.dev/hsts': 'false' } }),
      ingress('shop', 'wild', '*.wild.e2e.test', 'web', { tls: { hosts: ['*.wild.e2e.test'], secretName: 'wild-tls' } }),
    ].join('---\n'));
    for (const host of ['one.e2e.test', 'two.e2e.test', 'x.wild.e2e.test']) {
      await waitUntil(`${host} over verified TLS`, async () => (await curlTls(a, host, caFile())) === '200', 30_000, 100);
    }
    const headers = await run('curl', ['-sS', '-D', '-', '-o', '/dev/null', '--resolve', `one.e2e.test:${a.httpsPort}:127.0.0.1`, '--cacert', caFile(), `https://one.e2e.test:${a.httpsPort}/`]);
    expect(headers.toLowerCase()).toContain('strict-transport-security: max-age=31536000; includesubdomains');
    const noHsts = await run('curl', ['-sS', '-D', '-', '-o', '/dev/null', '--resolve', `two.e2e.test:${a.httpsPort}:127.0.0.1`, '--cacert', caFile(), `https://two.e2e.test:${a.httpsPort}/`]);
    expect(noHsts.toLowerCase()).not.toContain('strict-transport-security');
    const redirect = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '-H', 'Host: one.e2e.test', `http://127.0.0.1:${a.httpPort}/cart/?id=7`]);
    expect(redirect).toBe(`308 https://one.e2e.test:${a.httpsPort}/cart?id=7`);
  });
});
