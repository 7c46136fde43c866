import type { KubernetesObject } from '@kubernetes/client-node';

/** An ACMEIssuer (portico.dev/v1alpha1) as Portico uses it. The CRD's schema already refused malformed ones. */
export interface Issuer {
  name: string;
  directoryURL: string;
  email: string;
  isDefault: boolean;
  accountKeySecret: { namespace: string; name: string };
  caBundle: string | undefined;
  externalAccountBinding: { keyID: string; secret: { namespace: string; name: string; key: string } } | undefined;
  generation: number;
}

export interface ACMEIssuerObject extends KubernetesObject {
  spec?: {
    directoryURL?: string;
    email?: string;
    default?: boolean;
    privateKeySecretRef?: { name?: string; namespace?: string };
    caBundle?: string;
    externalAccountBinding?: { keyID?: string; keySecretRef?: { name?: string; namespace?: string; key?: string } };
  };
  status?: { registered?: boolean; accountURL?: string; lastError?: string; lastErrorTime?: string; observedGeneration?: number };
}

export const ACME_GROUP = 'portico.dev';
export const ACME_VERSION = 'v1alpha1';
export const ACME_PLURAL = 'acmeissuers';

/** Typed view of an issuer; `ownNamespace` fills in Secret namespaces left out. */
export function readIssuer(o: ACMEIssuerObject, ownNamespace: string): Issuer | string {
  const s = o.spec;
  const name = o.metadata?.name ?? '';
  if (!s?.directoryURL || !s.email || !s.privateKeySecretRef?.name) return `ACMEIssuer ${name} lacks directoryURL, email or privateKeySecretRef.name`;
  const eab = s.externalAccountBinding;
  return {
    name,
    directoryURL: s.directoryURL,
    email: s.email,
    isDefault: s.default === true,
    accountKeySecret: { namespace: s.privateKeySecretRef.namespace ?? ownNamespace, name: s.privateKeySecretRef.name },
    caBundle: s.caBundle,
    externalAccountBinding: eab?.keyID && eab.keySecretRef?.name && eab.keySecretRef.key
      ? { keyID: eab.keyID, secret: { namespace: eab.keySecretRef.namespace ?? ownNamespace, name: eab.keySecretRef.name, key: eab.keySecretRef.key } }
      : undefined,
    generation: o.metadata?.generation ?? 0,
  };
}
