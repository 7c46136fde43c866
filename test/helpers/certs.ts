import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

export interface Issued {
  certPem: string;
  keyPem: string;
}

function pemKey(pkcs8: ArrayBuffer): string {
  return `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

/** A throwaway CA for tests, issuing leaf certificates for DNS names. */
export class TestCA {
  private readonly cert: x509.X509Certificate;
  private readonly keys: CryptoKeyPair;

  private constructor(cert: x509.X509Certificate, keys: CryptoKeyPair) {
    this.cert = cert;
    this.keys = keys;
  }

  static async create(): Promise<TestCA> {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01', name: 'CN=Portico Test CA', notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 86400_000),
      signingAlgorithm: ALG, keys,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true)],
    });
    return new TestCA(cert, keys);
  }

  get pem(): string {
    return this.cert.toString('pem');
  }

  async issue(dnsNames: string[]): Promise<Issued> {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: Date.now().toString(16) + Math.floor(Math.random() * 1e6).toString(16),
      subject: `CN=${dnsNames[0]}`, issuer: this.cert.subject,
      notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 86400_000),
      signingAlgorithm: ALG, publicKey: keys.publicKey, signingKey: this.keys.privateKey,
      extensions: [new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value }))), new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.1'])],
    });
    return { certPem: cert.toString('pem'), keyPem: pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) };
  }
}

/** A kubernetes.io/tls Secret manifest. */
export function tlsSecret(name: string, issued: Issued, namespace = 'default'): string {
  return `apiVersion: v1
kind: Secret
type: kubernetes.io/tls
metadata: {name: ${name}, namespace: ${namespace}}
data:
  tls.crt: ${Buffer.from(issued.certPem).toString('base64')}
  tls.key: ${Buffer.from(issued.keyPem).toString('base64')}
`;
}
