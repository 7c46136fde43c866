// Property: the build cache is memoisation only. After any sequence of changes to the objects a
// build reads (Ingresses edited, deleted and added back, Services, EndpointSlices, Secrets,
// ConfigMaps and IngressClasses changed or gone), a build with the cache of every build before
// gives exactly the table and diagnostics of a build without it.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject, V1Ingress } from '@kubernetes/client-node';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSelfSigned } from '../../src/dataplane/tls.ts';
import { BuildCache, buildRoutingTable } from '../../src/routing/index.ts';
import type { ObjectSnapshot } from '../../src/snapshot.ts';
import { CLASS, fixtureSnapshot } from '../helpers/build-fixture.ts';
import { propertyRuns } from '../helpers/property.ts';

const FIXTURES = readdirSync(fileURLToPath(new URL('../fixtures/routing/', import.meta.url))).filter((f) => !f.startsWith('_')).map((f) => f.replace(/\.yaml$/, ''));
const OPTIONS = { ...CLASS, configMap: 'portico/controller', generation: 1 };
const HOSTS = ['a.example.com', 'www.a.example.com', '*.example.com', '', 'new.example.com', 'alias.example.com', 'valid.example.com'];
const PATHS = ['/', '/api', '/api/', '/v[0-9]+', '/post', 'relative'];
const ANNOTATIONS: [string, string | undefined][] = [
  ['server-alias', 'alias.example.com'], ['server-alias', undefined], ['use-regex', 'true'], ['use-regex', undefined], ['canary', 'true'],
  ['canary-weight', '50'], ['canary', undefined], ['from-to-www-redirect', 'true'], ['app-root', '/app'], ['default-backend', 'svc-b'],
  ['default-backend', undefined], ['whitelist-source-range', '10.0.0.0/8'], ['service-upstream', 'true'], ['rewrite-target', '/$1'],
  ['auth-type', 'basic'], ['auth-secret', 'htpasswd'],
];
const SECRET_NAMES = ['tls-a', 'tls-b', 'htpasswd', 'missing'];

type Kind = keyof ObjectSnapshot;
type Edit =
  | { op: 'host'; i: number; value: string }
  | { op: 'path'; i: number; value: string }
  | { op: 'annotation'; i: number; value: [string, string | undefined] }
  | { op: 'default-backend'; i: number; value: boolean }
  | { op: 'copy' | 'delete' | 'restore'; kind: Kind; i: number }
  | { op: 'service'; i: number; value: 'port' | 'external' | 'cluster-ip' }
  | { op: 'slice'; i: number; value: 'address' | 'unready' }
  | { op: 'tls'; i: number; value: string | undefined }
  | { op: 'config'; value: string }
  | { op: 'recreate'; i: number; day: number };

const index = fc.nat(20);
const kind = fc.constantFrom<Kind>('ingresses', 'services', 'endpointSlices', 'secrets', 'configMaps', 'ingressClasses');
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('host' as const), i: index, value: fc.constantFrom(...HOSTS) }),
  fc.record({ op: fc.constant('path' as const), i: index, value: fc.constantFrom(...PATHS) }),
  fc.record({ op: fc.constant('annotation' as const), i: index, value: fc.constantFrom(...ANNOTATIONS) }),
  fc.record({ op: fc.constant('default-backend' as const), i: index, value: fc.boolean() }),
  fc.record({ op: fc.constantFrom('copy' as const, 'delete' as const, 'restore' as const), kind, i: index }),
  fc.record({ op: fc.constant('service' as const), i: index, value: fc.constantFrom('port' as const, 'external' as const, 'cluster-ip' as const) }),
  fc.record({ op: fc.constant('slice' as const), i: index, value: fc.constantFrom('address' as const, 'unready' as const) }),
  fc.record({ op: fc.constant('tls' as const), i: index, value: fc.constantFrom(...SECRET_NAMES, undefined) }),
  fc.record({ op: fc.constant('config' as const), value: fc.constantFrom('5', '120', 'bad') }),
  // Deleted and created again under its name: a new creation time, so another place in the oldest-first order.
  fc.record({ op: fc.constant('recreate' as const), i: index, day: fc.nat(4) }),
);

/**
 * A few Ingresses on a few hosts (so they share hosts, paths and backends), with TLS entries,
 * default backends and annotations that read Secrets; the fixtures' Services and IngressClasses.
 */
const universe = fc.array(fc.record({
  host: fc.constantFrom('a.example.com', 'b.example.com', '*.example.com', ''),
  paths: fc.subarray(['/', '/api', '/v[0-9]+']),
  service: fc.constantFrom('svc-a', 'svc-b', 'svc-c', 'missing'),
  annotations: fc.subarray(ANNOTATIONS.filter((a): a is [string, string] => a[1] !== undefined), { maxLength: 3 }),
  defaultBackend: fc.boolean(),
  tls: fc.constantFrom(undefined, ...SECRET_NAMES),
  created: fc.nat(3),
}), { minLength: 1, maxLength: 6 });

let secrets: ReadonlyMap<string, KubernetesObject>;
beforeAll(async () => {
  const { certPem, keyPem } = await generateSelfSigned('a.example.com');
  const tls = (name: string): KubernetesObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { namespace: 'default', name }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(certPem).toString('base64'), 'tls.key': Buffer.from(keyPem).toString('base64') } } as KubernetesObject);
  const htpasswd = { apiVersion: 'v1', kind: 'Secret', metadata: { namespace: 'default', name: 'htpasswd' }, type: 'Opaque', data: { auth: Buffer.from('alice:{PLAIN}x\n').toString('base64') } } as KubernetesObject;
  secrets = new Map([['default/tls-a', tls('tls-a')], ['default/tls-b', tls('tls-b')], ['default/htpasswd', htpasswd]]);
});

type UniverseIngress = typeof universe extends fc.Arbitrary<(infer U)[]> ? U : never;

function universeSnapshot(ingresses: readonly UniverseIngress[]): ObjectSnapshot {
  const common = fixtureSnapshot('hosts');
  const byKey = new Map<string, V1Ingress>();
  ingresses.forEach((u, n) => {
    const port = u.service === 'svc-c' ? { name: 'http' } : { number: 80 };
    const backend = { service: { name: u.service, port } };
    byKey.set(`default/u${n}`, {
      apiVersion: 'networking.k8s.io/v1', kind: 'Ingress',
      metadata: { namespace: 'default', name: `u${n}`, creationTimestamp: new Date(Date.UTC(2026, 0, 1 + u.created)), annotations: Object.fromEntries(u.annotations.map(([k, v]) => [`nginx.ingress.kubernetes.io/${k}`, v])) },
      spec: {
        ingressClassName: 'portico',
        ...(u.defaultBackend ? { defaultBackend: backend } : {}),
        ...(u.tls ? { tls: [{ hosts: [u.host || 'a.example.com'], secretName: u.tls }] } : {}),
        rules: [{ ...(u.host ? { host: u.host } : {}), http: { paths: u.paths.map((path) => ({ path, pathType: 'Prefix', backend })) } }],
      },
    });
  });
  return { ...common, ingresses: byKey, secrets: secrets as ObjectSnapshot['secrets'] };
}

/** The snapshot after one edit: the changed kind gets a new map and its changed object a new copy, as a source hands them over. */
function applyEdit(s: ObjectSnapshot, e: Edit, removed: Map<Kind, KubernetesObject[]>): ObjectSnapshot {
  const pick = <K extends Kind>(k: K, i: number): [string, Parameters<ObjectSnapshot[K]['forEach']>[0] extends (v: infer V, ...a: never[]) => void ? V : never] | undefined => {
    const entries = [...s[k].entries()];
    return entries.length === 0 ? undefined : (entries[i % entries.length] as never);
  };
  const replace = <K extends Kind>(k: K, key: string, value: KubernetesObject | undefined): ObjectSnapshot => {
    const map = new Map(s[k] as ReadonlyMap<string, KubernetesObject>);
    if (value === undefined) map.delete(key);
    else map.set(key, value);
    return { ...s, [k]: map };
  };
  const editIngress = (i: number, change: (ingress: V1Ingress) => void): ObjectSnapshot => {
    const found = pick('ingresses', i);
    if (!found) return s;
    const copy = structuredClone(found[1]);
    change(copy);
    return replace('ingresses', found[0], copy);
  };
  switch (e.op) {
    case 'host':
      return editIngress(e.i, (ing) => {
        const rule = ing.spec?.rules?.[0];
        if (rule) rule.host = e.value || undefined;
      });
    case 'path':
      return editIngress(e.i, (ing) => {
        const path = ing.spec?.rules?.[0]?.http?.paths[0];
        if (path) path.path = e.value;
      });
    case 'annotation':
      return editIngress(e.i, (ing) => {
        const [name, value] = e.value;
        const annotations = { ...ing.metadata!.annotations };
        if (value === undefined) delete annotations[`nginx.ingress.kubernetes.io/${name}`];
        else annotations[`nginx.ingress.kubernetes.io/${name}`] = value;
        ing.metadata!.annotations = annotations;
      });
    case 'default-backend':
      return editIngress(e.i, (ing) => {
        if (e.value) ing.spec = { ...ing.spec, defaultBackend: { service: { name: 'svc-c', port: { name: 'admin' } } } };
        else delete ing.spec?.defaultBackend;
      });
    case 'copy': {
      const found = pick(e.kind, e.i);
      return found ? replace(e.kind, found[0], structuredClone(found[1]) as KubernetesObject) : s;
    }
    case 'delete': {
      const found = pick(e.kind, e.i);
      if (!found) return s;
      removed.set(e.kind, [...(removed.get(e.kind) ?? []), found[1] as KubernetesObject]);
      return replace(e.kind, found[0], undefined);
    }
    case 'restore': {
      const gone = removed.get(e.kind) ?? [];
      const back = gone.splice(e.i % Math.max(1, gone.length), 1)[0];
      if (!back) return s;
      const m = back.metadata!;
      return replace(e.kind, m.namespace ? `${m.namespace}/${m.name}` : m.name!, structuredClone(back));
    }
    case 'service': {
      const found = pick('services', e.i);
      if (!found) return s;
      const copy = structuredClone(found[1]);
      if (e.value === 'external') copy.spec = { ...copy.spec, type: 'ExternalName', externalName: 'example.org' };
      else if (e.value === 'cluster-ip') copy.spec = { ...copy.spec, clusterIP: '10.96.0.77' };
      else for (const p of copy.spec?.ports ?? []) p.port += 1;
      return replace('services', found[0], copy);
    }
    case 'slice': {
      const found = pick('endpointSlices', e.i);
      if (!found) return s;
      const copy = structuredClone(found[1]);
      const endpoint = copy.endpoints?.[0];
      if (endpoint && e.value === 'address') endpoint.addresses = ['10.244.9.9'];
      if (endpoint && e.value === 'unready') endpoint.conditions = { ready: false };
      return replace('endpointSlices', found[0], copy);
    }
    case 'tls':
      return editIngress(e.i, (ing) => {
        if (e.value === undefined) delete ing.spec?.tls;
        else ing.spec = { ...ing.spec, tls: [{ hosts: [ing.spec?.rules?.[0]?.host ?? 'a.example.com'], secretName: e.value }] };
      });
    case 'recreate':
      return editIngress(e.i, (ing) => {
        ing.metadata = { ...ing.metadata, creationTimestamp: new Date(Date.UTC(2026, 0, 1 + e.day)) };
      });
    case 'config': {
      const existing = s.configMaps.get('portico/controller');
      const data = { ...existing?.data, 'proxy-read-timeout': e.value, 'proxy-body-size': `${e.value}m` };
      return replace('configMaps', 'portico/controller', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'portico', name: 'controller' }, ...{ data } } as KubernetesObject);
    }
  }
}

describe('the build cache', () => {
  it('gives the table and diagnostics of a build without it, after any sequence of changes', () => {
    const start = fc.oneof(fc.constantFrom(...FIXTURES), universe);
    fc.assert(fc.property(start, fc.array(edit, { minLength: 1, maxLength: 8 }), fc.boolean(), (from, edits, defaultBackend) => {
      const options = defaultBackend ? { ...OPTIONS, defaultBackendService: 'default/svc-b' } : OPTIONS;
      const cache = new BuildCache();
      let snapshot = typeof from === 'string' ? fixtureSnapshot(from) : universeSnapshot(from);
      buildRoutingTable(snapshot, { ...options, cache });
      const removed = new Map<Kind, KubernetesObject[]>();
      for (const e of edits) {
        snapshot = applyEdit(snapshot, e, removed);
        const cached = buildRoutingTable(snapshot, { ...options, cache });
        const fresh = buildRoutingTable(snapshot, options);
        expect(cached.diagnostics).toEqual(fresh.diagnostics);
        expect(cached.table).toEqual(fresh.table);
      }
    }), propertyRuns(300));
  });

  it('reuses what did not change: the other hosts and the backends are the same objects', () => {
    const ingress = (name: string, host: string): V1Ingress => ({
      apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { namespace: 'default', name },
      spec: { ingressClassName: 'portico', rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'svc-a', port: { number: 80 } } } }] } }] },
    });
    const common = fixtureSnapshot('hosts');
    const snapshot = { ...common, ingresses: new Map([['default/one', ingress('one', 'one.example.com')], ['default/two', ingress('two', 'two.example.com')]]) };
    const cache = new BuildCache();
    const before = buildRoutingTable(snapshot, { ...OPTIONS, cache }).table;
    const after = buildRoutingTable({ ...snapshot, ingresses: new Map(snapshot.ingresses).set('default/two', ingress('two', 'moved.example.com')) }, { ...OPTIONS, cache }).table;
    expect([...after.exactHosts.keys()].sort()).toEqual(['moved.example.com', 'one.example.com']);
    expect(after.exactHosts.get('one.example.com')).toBe(before.exactHosts.get('one.example.com'));
    expect(after.backends.get('default/svc-a:80')).toBe(before.backends.get('default/svc-a:80'));
    expect(after.exactHosts.get('moved.example.com')!.prefix.get('/')!.backend).toBe(before.backends.get('default/svc-a:80'));
  });
});
