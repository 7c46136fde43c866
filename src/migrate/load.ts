import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, NetworkingV1Api, type V1Ingress } from '@kubernetes/client-node';
import type { Diagnostic } from '../diagnostics.ts';
import type { ObjectSnapshot } from '../snapshot.ts';
import { parseManifest, snapshotOf, type ManifestObject } from '../sources/manifests.ts';

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/** The objects of a manifest directory, or of one file (`kubectl get ingress -A -o yaml > all.yaml`). */
export async function loadPath(path: string): Promise<{ snapshot: ObjectSnapshot; problems: Diagnostic[] }> {
  const files = (await stat(path)).isDirectory() ? (await readdir(path)).filter((f) => MANIFEST_FILE.test(f)).sort().map((f) => join(path, f)) : [path];
  const objects: ManifestObject[] = [];
  const problems: Diagnostic[] = [];
  for (const file of files) {
    const parsed = parseManifest(await readFile(file, 'utf8'), file);
    objects.push(...parsed.objects);
    problems.push(...parsed.problems);
  }
  return { snapshot: snapshotOf(objects), problems };
}

/**
 * What the report needs from a cluster: every Ingress and IngressClass, the ingress-nginx
 * ConfigMap, and only the Secrets and ConfigMaps the Ingresses' annotations name.
 */
export async function loadCluster(kubeconfig: string | undefined, configMap: string): Promise<{ snapshot: ObjectSnapshot; problems: Diagnostic[] }> {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  const core = kc.makeApiClient(CoreV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  const [ingresses, classes] = await Promise.all([networking.listIngressForAllNamespaces(), networking.listIngressClass()]);
  const objects: ManifestObject[] = [
    ...ingresses.items.map((o) => ({ ...o, kind: 'Ingress' }) as unknown as ManifestObject),
    ...classes.items.map((o) => ({ ...o, kind: 'IngressClass' }) as unknown as ManifestObject),
  ];
  const wanted = new Set<string>([`ConfigMap ${configMap}`]);
  for (const i of ingresses.items) for (const ref of referenced(i)) wanted.add(ref);
  const problems: Diagnostic[] = [];
  for (const ref of wanted) {
    const [kind, key = ''] = ref.split(' ');
    const [namespace = '', name = ''] = key.split('/');
    try {
      const o = kind === 'Secret' ? await core.readNamespacedSecret({ namespace, name }) : await core.readNamespacedConfigMap({ namespace, name });
      objects.push({ ...o, kind } as unknown as ManifestObject);
    } catch {
      // Missing: the report says so where it matters (the annotation naming it is invalid).
    }
  }
  return { snapshot: snapshotOf(objects), problems };
}

/** `Secret ns/name` and `ConfigMap ns/name` an Ingress's annotations refer to. */
function referenced(ingress: V1Ingress): string[] {
  const namespace = ingress.metadata?.namespace ?? 'default';
  const a = ingress.metadata?.annotations ?? {};
  const value = (name: string): string | undefined => a[`portico.dev/${name}`] ?? a[`nginx.ingress.kubernetes.io/${name}`];
  const qualified = (v: string): string => (v.includes('/') ? v : `${namespace}/${v}`);
  const out: string[] = [];
  const secret = value('auth-secret');
  if (secret) out.push(`Secret ${qualified(secret.trim())}`);
  const headers = value('custom-headers');
  if (headers) out.push(`ConfigMap ${qualified(headers.trim())}`);
  return out;
}
