// TLS termination in standalone mode: certificates from Secrets chosen by SNI, the default
// certificate, rotation without dropping connections, ssl-redirect and HSTS.
import { request, Agent } from 'node:https';
import type { PeerCertificate } from 'node:tls';
import { connect, createSecureContext, createServer as createTlsServer, getCACertificates } from 'node:tls';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { generateSelfSigned, trustCertificates } from '../src/dataplane/tls.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from './helpers/backends.ts';
import { TestCA, tlsSecret, type Issued } from './helpers/certs.ts';
import { send } from './helpers/http.ts';
import { service } from './helpers/manifests.ts';
import { startPortico, type RunningPortico } from './helpers/portico.ts';

interface TlsReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  cert: PeerCertificate;
  reused: boolean;
}

function tlsIngress(name: string, hosts: string[], secret: string, annotations: Record<string, string> = {}): string {
  const a = Object.entries(annotations).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join('\n');
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
${a ? `  annotations:\n${a}\n` : ''}spec:
  ingressClassName: portico
  tls: [{hosts: ${JSON.stringify(hosts)}, secretName: ${secret}}]
  rules:
${hosts.map((h) => `    - host: "${h}"\n      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}`).join('\n')}
`;
}

const fingerprintOf = (issued: Issued) => new X509Certificate(issued.certPem).fingerprint256;

describe('TLS termination', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  let ca: TestCA;
  let a: Issued;
  let b: Issued;
  let wild: Issued;
  let fallback: Issued;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });

  const get = (servername: string | undefined, host: string, path = '/', o: { agent?: Agent; maxVersion?: 'TLSv1.1'; headers?: Record<string, string> } = {}): Promise<TlsReply> =>
    new Promise((resolve, reject) => {
      const req = request({
        host: '127.0.0.1', port: portico.httpsPort, path, headers: { host, ...o.headers }, servername, rejectUnauthorized: false,
        agent: o.agent ?? false, ...(o.maxVersion ? { maxVersion: o.maxVersion, minVersion: 'TLSv1' as const } : {}),
      }, (res) => {
        const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cert, reused: req.reusedSocket }));
      });
      req.on('error', reject);
      req.end();
    });

  beforeAll(async () => {
    ca = await TestCA.create();
    [a, b, wild, fallback] = await Promise.all([ca.issue(['a.test']), ca.issue(['b.test']), ca.issue(['*.wild.test']), ca.issue(['fallback.test'])]);
    const broken = { certPem: a.certPem, keyPem: b.keyPem }; // a key that does not match its certificate
    const echo = { address: '127.0.9.1', port: await backends.echo('echo', '127.0.9.1') };
    portico = await startPortico({
      'echo.yaml': service('echo', [echo]),
      'secrets.yaml': [tlsSecret('a', a), tlsSecret('b', b), tlsSecret('wild', wild), tlsSecret('broken', broken), tlsSecret('fallback', fallback, 'kube-system')].join('---\n'),
      'a.yaml': tlsIngress('a', ['a.test'], 'a'),
      'b.yaml': tlsIngress('b', ['b.test'], 'b', { 'portico.dev/hsts': 'false', 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' }),
      'wild.yaml': tlsIngress('wild', ['*.wild.test'], 'wild'),
      'broken.yaml': tlsIngress('broken', ['broken.test'], 'broken'),
      'missing.yaml': tlsIngress('missing', ['missing.test'], 'does-not-exist'),
      'plain.yaml': `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: plain}
spec:
  ingressClassName: portico
  rules: [{host: plain.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: forced, annotations: {nginx.ingress.kubernetes.io/force-ssl-redirect: "true"}}
spec:
  ingressClassName: portico
  rules: [{host: forced.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}}]
`,
    }, 'undici', { defaultCertificate: 'kube-system/fallback' });
  });

  afterAll(async () => {
    agent.destroy();
    await portico?.stop();
    await backends.close();
  });

  it('chooses the certificate by SNI: exact host, then wildcard, then the default', async () => {
    expect((await get('a.test', 'a.test')).cert.fingerprint256).toBe(fingerprintOf(a));
    expect((await get('b.test', 'b.test')).cert.fingerprint256).toBe(fingerprintOf(b));
    expect((await get('x.wild.test', 'x.wild.test')).cert.fingerprint256).toBe(fingerprintOf(wild));
    expect((await get('x.y.wild.test', 'x.y.wild.test')).cert.fingerprint256).toBe(fingerprintOf(fallback)); // one label only
    expect((await get('unknown.test', 'unknown.test')).cert.fingerprint256).toBe(fingerprintOf(fallback));
    expect((await get('', 'a.test')).cert.fingerprint256).toBe(fingerprintOf(fallback)); // no SNI (an empty servername sends none)
  });

  it('serves the default certificate for a host whose Secret is missing or does not match its key, and says why', async () => {
    expect((await get('broken.test', 'broken.test')).cert.fingerprint256).toBe(fingerprintOf(fallback));
    expect((await get('missing.test', 'missing.test')).cert.fingerprint256).toBe(fingerprintOf(fallback));
    expect((await get('broken.test', 'broken.test')).status).toBe(200); // the route itself still serves
    const diagnostics = await (await fetch(`http://127.0.0.1:${portico.adminPort}/debug/diagnostics`)).json() as { code: string; object: { name: string }; message: string }[];
    const tls = diagnostics.filter((d) => d.code === 'InvalidTLSSecret').map((d) => `${d.object.name}: ${d.message}`);
    expect(tls).toEqual([
      expect.stringMatching(/^broken: Secret default\/broken tls.key does not match the certificate/),
      expect.stringMatching(/^missing: Secret default\/does-not-exist not found/),
    ]);
  });

  it('proxies HTTPS with X-Forwarded-Proto: https and HSTS, which an Ingress can switch off', async () => {
    const r = await get('a.test', 'a.test', '/x');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).headers['x-forwarded-proto']).toBe('https');
    expect(JSON.parse(r.body).headers['x-forwarded-port']).toBe(String(portico.httpsPort));
    expect(r.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect((await get('b.test', 'b.test')).headers['strict-transport-security']).toBeUndefined();
    // Portico's own answers on an HTTPS route carry it too, as ingress-nginx's do.
    const tooLarge = await get('a.test', 'a.test', '/', { headers: { 'content-length': String(2 * 1024 * 1024) } });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });

  it('redirects HTTP to HTTPS with 308 for hosts with a certificate, keeping the query and dropping one trailing slash', async () => {
    const r = await send(portico.httpPort, 'a.test', '/foo/?x=1');
    expect(r.status).toBe(308);
    expect(r.headers['location']).toBe(`https://a.test:${portico.httpsPort}/foo?x=1`);
    expect((await send(portico.httpPort, 'x.wild.test', '/')).headers['location']).toBe(`https://x.wild.test:${portico.httpsPort}`);
    expect((await send(portico.httpPort, 'plain.test', '/')).status).toBe(200); // no TLS section: no redirect
    expect((await send(portico.httpPort, 'b.test', '/')).status).toBe(200); // ssl-redirect: "false"
    expect((await send(portico.httpPort, 'forced.test', '/p')).headers['location']).toBe(`https://forced.test:${portico.httpsPort}/p`);
    expect((await send(portico.httpPort, 'a.test', '/.well-known/acme-challenge/token')).status).toBe(200); // exempt
    expect((await send(portico.httpPort, 'a.test', '/')).headers['strict-transport-security']).toBeUndefined(); // never over plain HTTP
    expect((await send(portico.httpPort, 'plain.test', '/')).headers['strict-transport-security']).toBeUndefined();
  });

  it('speaks TLS 1.2 and 1.3 only', async () => {
    await expect(get('a.test', 'a.test', '/', { maxVersion: 'TLSv1.1' })).rejects.toThrow();
    const socket = connect({ host: '127.0.0.1', port: portico.httpsPort, servername: 'a.test', rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] });
    await new Promise((r) => socket.once('secureConnect', r));
    expect(['TLSv1.2', 'TLSv1.3']).toContain(socket.getProtocol());
    expect(socket.alpnProtocol).toBe('http/1.1');
    socket.destroy();
  });

  it('serves a rotated Secret to new connections without dropping open ones', async () => {
    const first = await get('a.test', 'a.test', '/', { agent });
    expect(first.cert.fingerprint256).toBe(fingerprintOf(a));
    const renewed = await ca.issue(['a.test']);
    await portico.apply('secrets.yaml', [tlsSecret('a', renewed), tlsSecret('b', b), tlsSecret('wild', wild), tlsSecret('broken', { certPem: a.certPem, keyPem: b.keyPem }), tlsSecret('fallback', fallback, 'kube-system')].join('---\n'));
    const sameConnection = await get('a.test', 'a.test', '/', { agent });
    expect(sameConnection.reused).toBe(true);
    expect(sameConnection.status).toBe(200);
    expect(sameConnection.cert.fingerprint256).toBe(fingerprintOf(a)); // the open connection keeps its handshake
    expect((await get('a.test', 'a.test')).cert.fingerprint256).toBe(fingerprintOf(renewed));
  });
});

describe('the generated default certificate', () => {
  it('is a self-signed ECDSA P-256 leaf for a year that OpenSSL reads and a TLS client can use', async () => {
    const before = Date.now();
    const { certPem, keyPem } = await generateSelfSigned('fallback.test');
    const cert = new X509Certificate(certPem);
    expect(cert.subject).toBe('CN=fallback.test');
    expect(cert.issuer).toBe('CN=fallback.test');
    expect(cert.ca).toBe(false);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(Date.parse(cert.validFrom)).toBeLessThanOrEqual(before);
    const lifetimeDays = (Date.parse(cert.validTo) - before) / 86_400_000;
    expect(lifetimeDays).toBeGreaterThan(364);
    expect(lifetimeDays).toBeLessThan(366);
    // Two certificates never share a serial number.
    expect((await generateSelfSigned('fallback.test')).certPem).not.toBe(certPem);
    const server = createTlsServer({ cert: certPem, key: keyPem }, (socket) => socket.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const reply = await new Promise<{ text: string; peer: PeerCertificate }>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'fallback.test', ca: certPem, checkServerIdentity: () => undefined }, () => {
        const peer = socket.getPeerCertificate();
        let text = '';
        socket.on('data', (d: Buffer) => (text += d));
        socket.on('end', () => resolve({ text, peer }));
      });
      socket.on('error', reject);
    });
    server.close();
    expect(reply.text).toBe('hello');
    expect(reply.peer.subject.CN).toBe('fallback.test');
  });

  // A random 16-byte serial starts with a zero byte in 1 of 256 draws; written as is, OpenSSL
  // refuses the whole certificate ("illegal padding") and the process cannot start.
  it.each([
    ['a leading zero byte', '00112233445566778899aabbccddeeff', '112233445566778899AABBCCDDEEFF'],
    ['two leading zero bytes', '0000a233445566778899aabbccddeeff', 'A233445566778899AABBCCDDEEFF'],
    ['the top bit set', 'f0112233445566778899aabbccddeeff', 'F0112233445566778899AABBCCDDEEFF'],
  ])('is readable whatever the random serial: %s', async (_, serialHex, expected) => {
    const { certPem, keyPem } = await generateSelfSigned('fallback.test', Buffer.from(serialHex, 'hex'));
    const cert = new X509Certificate(certPem);
    expect(cert.serialNumber).toBe(expected);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(() => createSecureContext({ cert: certPem, key: keyPem })).not.toThrow();
  });
});

describe('--extra-ca-certs', () => {
  it('makes a server certified by a private CA trusted where the default store is used, keeping the system roots', async () => {
    const ca = await TestCA.create();
    const leaf = await ca.issue(['private.test']);
    const server = createTlsServer({ cert: leaf.certPem, key: leaf.keyPem }, (socket) => socket.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const handshake = () => new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'private.test' }, () => resolve('trusted'));
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
      socket.on('secureConnect', () => socket.destroy());
    });
    const trusted = () => new Set(getCACertificates('default').map((pem) => new X509Certificate(pem).fingerprint256));
    const before = trusted();
    expect(await handshake()).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    trustCertificates([ca.pem]);
    expect(await handshake()).toBe('trusted');
    const after = trusted();
    expect([...before].filter((fingerprint) => !after.has(fingerprint))).toEqual([]);
    expect(after.has(new X509Certificate(ca.pem).fingerprint256)).toBe(true);
    server.close();
  });
});
