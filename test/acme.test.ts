import { describe, expect, it } from 'vitest';
import type { V1Ingress, V1Secret } from '@kubernetes/client-node';
import { needsCertificate, wantedCertificates, type WantedCertificate } from '../src/acme/manager.ts';
import { TestCA, type Issued } from './helpers/certs.ts';

const secretOf = (issued: Issued): V1Secret => ({
  type: 'kubernetes.io/tls',
  data: { 'tls.crt': Buffer.from(issued.certPem).toString('base64'), 'tls.key': Buffer.from(issued.keyPem).toString('base64') },
});

const wanted = (hosts: string[]): WantedCertificate => ({
  key: 'shop/shop-tls', namespace: 'shop', secretName: 'shop-tls', hosts, issuer: 'le', ingress: { kind: 'Ingress', namespace: 'shop', name: 'shop', uid: undefined },
});

const ing = (name: string, annotations: Record<string, string>, tls: { hosts: string[]; secretName: string }[]): V1Ingress => ({
  metadata: { name, namespace: 'shop', annotations }, spec: { tls },
});

describe('ACME: which certificates are wanted', () => {
  it('takes Ingresses naming an issuer, or kubernetes.io/tls-acme with the default issuer, one per Secret', () => {
    const w = wantedCertificates([
      ing('a', { 'portico.dev/acme-issuer': 'le' }, [{ hosts: ['b.test', 'a.test'], secretName: 'ab' }]),
      ing('legacy', { 'kubernetes.io/tls-acme': 'true' }, [{ hosts: ['c.test'], secretName: 'c' }]),
      ing('later', { 'portico.dev/acme-issuer': 'other' }, [{ hosts: ['a.test'], secretName: 'ab' }]), // same Secret: the first wins
      ing('plain', {}, [{ hosts: ['d.test'], secretName: 'd' }]),
    ], 'default-issuer');
    expect(w.map((x) => [x.key, x.hosts.join(','), x.issuer])).toEqual([['shop/ab', 'a.test,b.test', 'le'], ['shop/c', 'c.test', 'default-issuer']]);
    expect(wantedCertificates([ing('legacy', { 'kubernetes.io/tls-acme': 'true' }, [{ hosts: ['c.test'], secretName: 'c' }])], undefined)).toEqual([]);
  });
});

describe('ACME: when to order', () => {
  it('orders when the Secret is missing or does not cover every host', async () => {
    const ca = await TestCA.create();
    expect(needsCertificate(undefined, wanted(['a.test']))).toBe('no usable certificate yet');
    const cert = await ca.issue(['a.test']);
    expect(needsCertificate(secretOf(cert), wanted(['a.test']))).toBeUndefined();
    expect(needsCertificate(secretOf(cert), wanted(['a.test', 'b.test']))).toBe('the certificate does not cover b.test');
  });

  it('renews when a third of the lifetime is left', async () => {
    const ca = await TestCA.create();
    const cert = await ca.issue(['a.test']); // valid from 1 h ago for 25 h
    const now = Date.now();
    expect(needsCertificate(secretOf(cert), wanted(['a.test']), now)).toBeUndefined();
    expect(needsCertificate(secretOf(cert), wanted(['a.test']), now + 15 * 3600_000)).toBeUndefined(); // 9 h of 25 left
    expect(needsCertificate(secretOf(cert), wanted(['a.test']), now + 17 * 3600_000)).toMatch(/a third of its lifetime is left/); // 7 h left
  });
});
