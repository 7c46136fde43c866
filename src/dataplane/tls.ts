import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureVersion } from 'node:tls';
import { webcrypto } from 'node:crypto';
import type { RoutingTable, TlsCertificate } from '../table/types.ts';

/** TLS 1.2 and 1.3 only until the ConfigMap's ssl-protocols says otherwise; Node's default cipher list is the modern one (no RC4, 3DES, CBC-SHA1 first). */
export const TLS_OPTIONS = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' } as const;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

/**
 * Certificates for the HTTPS listener, chosen by SNI: the exact host, then a matching
 * wildcard (`*.example.com`, one label), then the default certificate. Secure contexts are
 * made when a table is swapped in, once per distinct certificate, never per handshake;
 * a renewed Secret takes effect for new connections while open ones keep theirs.
 */
export class TlsStore {
  private readonly byFingerprint = new Map<string, SecureContext>();
  private exact = new Map<string, SecureContext>();
  private wildcard = new Map<string, SecureContext>();
  private fallback: SecureContext;
  private generated: SecureContext;
  /** The ConfigMap's ssl-protocols, as Node's context options. */
  private versions: { minVersion: SecureVersion; maxVersion: SecureVersion } = { ...TLS_OPTIONS };
  private readonly generatedPem: PemPair;
  /** The default certificate's PEMs: the server's own context, for clients that send no SNI. */
  fallbackPem: PemPair;
  /** The default certificate's Secret ('' for the generated one) and when it expires (ssl_expire_time_seconds). */
  fallbackExpiry: { secret: string; notAfterSeconds: number };
  private readonly generatedExpiry: { secret: string; notAfterSeconds: number };

  constructor(generatedDefault: PemPair) {
    this.generatedPem = generatedDefault;
    this.generated = createSecureContext({ ...TLS_OPTIONS, cert: generatedDefault.certPem, key: generatedDefault.keyPem });
    this.fallback = this.generated;
    this.fallbackPem = generatedDefault;
    this.generatedExpiry = { secret: '', notAfterSeconds: Date.parse(new X509Certificate(generatedDefault.certPem).validTo) / 1000 };
    this.fallbackExpiry = this.generatedExpiry;
  }

  update(table: RoutingTable): void {
    const versions = table.settings.tlsVersions;
    if (versions.min !== this.versions.minVersion || versions.max !== this.versions.maxVersion) {
      // ssl-protocols changed: every context is made again with the new versions.
      this.versions = { minVersion: versions.min, maxVersion: versions.max };
      this.byFingerprint.clear();
      this.generated = createSecureContext({ ...this.versions, cert: this.generatedPem.certPem, key: this.generatedPem.keyPem });
    }
    const live = new Map<string, SecureContext>();
    const context = (c: TlsCertificate): SecureContext => {
      let ctx = this.byFingerprint.get(c.fingerprint) ?? live.get(c.fingerprint);
      if (!ctx) ctx = createSecureContext({ ...this.versions, cert: c.certPem, key: c.keyPem });
      live.set(c.fingerprint, ctx);
      return ctx;
    };
    const exact = new Map<string, SecureContext>();
    const wildcard = new Map<string, SecureContext>();
    for (const [host, certificate] of table.tlsHosts) {
      if (!certificate) continue; // unusable Secret: the default certificate answers
      if (host.startsWith('*.')) wildcard.set(host.slice(2), context(certificate));
      else exact.set(host, context(certificate));
    }
    this.fallback = table.defaultCertificate ? context(table.defaultCertificate) : this.generated;
    this.fallbackPem = table.defaultCertificate ?? this.generatedPem;
    this.fallbackExpiry = table.defaultCertificate ? { secret: table.defaultCertificate.secret, notAfterSeconds: Date.parse(table.defaultCertificate.notAfter) / 1000 } : this.generatedExpiry;
    // Swap whole maps: a handshake in progress sees the old or the new set, never a mix.
    this.exact = exact;
    this.wildcard = wildcard;
    this.byFingerprint.clear();
    for (const [fp, ctx] of live) this.byFingerprint.set(fp, ctx);
  }

  /** The context for a server name (SNI); the default one without SNI or without a match. */
  contextFor(servername: string | undefined): SecureContext {
    if (!servername) return this.fallback;
    const host = servername.toLowerCase();
    const exact = this.exact.get(host);
    if (exact) return exact;
    const dot = host.indexOf('.');
    return (dot > 0 ? this.wildcard.get(host.slice(dot + 1)) : undefined) ?? this.fallback;
  }

  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, this.contextFor(servername));
  };
}

/** A self-signed certificate for when no default certificate is configured (like ingress-nginx's "Fake Certificate"). */
export async function generateSelfSigned(commonName = 'Portico Default Certificate'): Promise<PemPair> {
  // Loaded here only: worker threads serve the instance's certificate and never generate one.
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Date.now().toString(16),
    name: `CN=${commonName}`,
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + 365 * 24 * 3600_000),
    signingAlgorithm: alg,
    keys: keys as unknown as CryptoKeyPair,
    extensions: [new x509.BasicConstraintsExtension(false), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem'), keyPem };
}
