import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { TlsCertificate } from '../table/types.ts';

/** Parsed certificates by Secret content, so an unchanged Secret is not parsed again on every build. */
const parsed = new Map<string, TlsCertificate | string>();
const PARSED_LIMIT = 10_000;

/**
 * Reads a `kubernetes.io/tls` Secret: the certificate chain, the key, and whether they
 * belong together. Returns the certificate or the reason it cannot be used.
 */
export function readTlsSecret(secret: V1Secret | undefined, ref: string): TlsCertificate | string {
  if (!secret) return `Secret ${ref} not found (or not of type kubernetes.io/tls)`;
  if (secret.type !== undefined && secret.type !== 'kubernetes.io/tls') return `Secret ${ref} is of type ${secret.type}, not kubernetes.io/tls`;
  const crt = secret.data?.['tls.crt'];
  const key = secret.data?.['tls.key'];
  if (!crt || !key) return `Secret ${ref} lacks tls.crt or tls.key`;
  const cacheKey = `${ref}\n${crt}\n${key}`;
  const cached = parsed.get(cacheKey);
  if (cached !== undefined) return cached;
  const result = parse(ref, Buffer.from(crt, 'base64').toString(), Buffer.from(key, 'base64').toString());
  if (parsed.size >= PARSED_LIMIT) parsed.clear();
  parsed.set(cacheKey, result);
  return result;
}

function parse(ref: string, certPem: string, keyPem: string): TlsCertificate | string {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certPem);
  } catch (err) {
    return `Secret ${ref} tls.crt is not a PEM certificate (${(err as Error).message})`;
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) return `Secret ${ref} tls.key does not match the certificate in tls.crt`;
  } catch (err) {
    return `Secret ${ref} tls.key is not a PEM private key (${(err as Error).message})`;
  }
  return {
    secret: ref,
    certPem,
    keyPem,
    notBefore: new Date(leaf.validFrom).toISOString(),
    notAfter: new Date(leaf.validTo).toISOString(),
    subjectAltNames: (leaf.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
    fingerprint: leaf.fingerprint256,
  };
}
