import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { createSecureContext, getCACertificates, setDefaultCACertificates, type SecureContext, type SecureVersion } from 'node:tls';
import type { RoutingTable, TlsCertificate } from '../table/types.ts';

/** TLS 1.2 and 1.3 only until the ConfigMap's ssl-protocols says otherwise; Node's default cipher list is the modern one (no RC4, 3DES, CBC-SHA1 first). */
export const TLS_OPTIONS = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' } as const;

/**
 * `--extra-ca-certs`: trust these CA certificates (PEM) besides the default store, on this thread:
 * the main thread is where Portico verifies servers (ACME directories, an API server whose
 * kubeconfig names no CA); the data plane does not verify backends, as ingress-nginx does not.
 * In the image Node ignores NODE_EXTRA_CA_CERTS (the file capability puts it in secure-execution
 * mode), hence a flag.
 */
export function trustCertificates(pems: readonly string[]): void {
  if (pems.length > 0) setDefaultCACertificates([...getCACertificates('default'), ...pems]);
}

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

/**
 * A self-signed certificate for when no default certificate is configured (like ingress-nginx's
 * "Fake Certificate"): ECDSA P-256, valid from an hour ago for a year, not a CA, for digital
 * signatures. Written as DER here (one fixed shape, a few dozen bytes of ASN.1) rather than with
 * an X.509 library, which cost each process about 14 MB of memory for one certificate.
 */
export async function generateSelfSigned(commonName = 'Portico Default Certificate', serial = randomBytes(16)): Promise<PemPair> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Date.now();
  const name = der(0x30, der(0x31, der(0x30, oid(OID_COMMON_NAME), der(0x0c, Buffer.from(commonName, 'utf8')))));
  const tbs = der(0x30,
    der(0xa0, der(0x02, Buffer.from([2]))), // version: v3
    der(0x02, positiveInteger(serial)),
    der(0x30, oid(OID_ECDSA_SHA256)),
    name,
    der(0x30, time(new Date(now - 3600_000)), time(new Date(now + 365 * 24 * 3600_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa3, der(0x30,
      der(0x30, oid(OID_BASIC_CONSTRAINTS), der(0x04, der(0x30))), // cA: false
      der(0x30, oid(OID_KEY_USAGE), der(0x01, Buffer.from([0xff])), der(0x04, der(0x03, Buffer.from([7, 0x80])))), // critical; digitalSignature
    )),
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value
  const certificate = der(0x30, tbs, der(0x30, oid(OID_ECDSA_SHA256)), der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return { certPem: pem('CERTIFICATE', certificate), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

const OID_COMMON_NAME = [2, 5, 4, 3];
const OID_ECDSA_SHA256 = [1, 2, 840, 10045, 4, 3, 2];
const OID_BASIC_CONSTRAINTS = [2, 5, 29, 19];
const OID_KEY_USAGE = [2, 5, 29, 15];

/** One DER element: tag, definite length, contents. */
function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

function oid(arcs: readonly number[]): Buffer {
  const bytes = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const base128 = [arc & 0x7f];
    for (let rest = arc >> 7; rest > 0; rest >>= 7) base128.unshift((rest & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return der(0x06, Buffer.from(bytes));
}

/**
 * An INTEGER's contents read as positive, in DER's minimal form: leading zero bytes dropped (a
 * random serial starts with one in 1 of 256 draws, and OpenSSL refuses the certificate as "illegal
 * padding"), then one zero put back when the top bit is set.
 */
function positiveInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const minimal = bytes.subarray(start);
  return minimal[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal;
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050, in seconds, Zulu. */
function time(d: Date): Buffer {
  const iso = d.toISOString(); // 2026-12-06T08:00:00.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z'; // 20261206080000Z
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(digits.slice(2))) : der(0x18, Buffer.from(digits));
}

function pem(label: string, body: Buffer): string {
  return `-----BEGIN ${label}-----\n${body.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END ${label}-----\n`;
}
