import { describe, expect, it } from 'vitest';
import { BuildCache, buildRoutingTable, MAX_REGEX_PATHS_PER_HOST } from '../../src/routing/index.ts';
import { snapshotOf, type ManifestObject } from '../../src/sources/manifests.ts';
import { matchRoute } from '../../src/table/match.ts';
import { compileGroup, PatternSet } from '../../src/table/pattern-set.ts';
import { CLASS } from '../helpers/build-fixture.ts';

describe('regex paths matched through RE2 sets', () => {
  it('gives the first matching pattern in order, across chunk boundaries, with its groups', () => {
    const patterns = Array.from({ length: 2500 }, (_, i) => `/v${i}/(items|users)/([0-9]+)`);
    patterns.push('/v1234/.*', '/.*');
    const set = new PatternSet(patterns);
    expect(set.firstMatch('/v1234/users/7')).toBe(1234);
    expect(set.firstMatch('/V2499/ITEMS/1')).toBe(2499); // case-insensitive, as ingress-nginx
    expect(set.firstMatch('/v1234/other')).toBe(2500);
    expect(set.firstMatch('/nothing')).toBe(2501);
    expect(set.firstMatch('x/v1/users/1')).toBe(-1); // anchored at the start
    expect([...set.groups(1234, '/v1234/users/7')!]).toEqual(['/v1234/users/7', 'users', '7']);
    expect(new PatternSet(['/a$']).firstMatch('/ab')).toBe(-1);
  });

  const manyRegexPaths = (count: number, name: string, createdAt: string): ManifestObject => ({
    apiVersion: 'networking.k8s.io/v1', kind: 'Ingress',
    metadata: { name, namespace: 'default', creationTimestamp: createdAt, annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' } },
    spec: { ingressClassName: 'portico', rules: [{ host: 'regex.test', http: { paths: Array.from({ length: count }, (_, i) => ({ path: `/${name}/${i}/[a-z]+`, pathType: 'ImplementationSpecific', backend: { service: { name: 'svc', port: { number: 80 } } } })) } }] },
  });
  const objects: ManifestObject[] = [
    { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'portico' }, spec: { controller: CLASS.controllerName } },
    manyRegexPaths(MAX_REGEX_PATHS_PER_HOST - 5, 'first', '2026-01-01T00:00:00Z'),
    manyRegexPaths(20, 'second', '2026-01-02T00:00:00Z'),
  ];

  it(`serves at most ${MAX_REGEX_PATHS_PER_HOST} regex paths per host, oldest Ingress first, and says how many it refused`, () => {
    const r = buildRoutingTable(snapshotOf(objects), { ...CLASS, generation: 1 });
    expect(r.table.exactHosts.get('regex.test')!.regex).toHaveLength(MAX_REGEX_PATHS_PER_HOST);
    expect(matchRoute(r.table, 'regex.test', '/first/9994/abc')?.route.ingress).toBe('default/first');
    expect(matchRoute(r.table, 'regex.test', '/second/4/abc')?.route.ingress).toBe('default/second');
    expect(matchRoute(r.table, 'regex.test', '/second/5/abc')).toBeUndefined();
    expect(r.diagnostics.filter((d) => d.code === 'InvalidPath').map((d) => `${d.code} ${d.object.name} ${d.field}: ${d.message}`)).toEqual([
      `InvalidPath second spec.rules[0].http.paths[5].path: host "regex.test" has more than ${MAX_REGEX_PATHS_PER_HOST} regex paths: 15 paths of this Ingress (this one and later ones) are ignored`,
    ]);
  });

  it('reuses what a previous build compiled when the paths are the same', () => {
    const cache = new BuildCache();
    const first = buildRoutingTable(snapshotOf(objects), { ...CLASS, generation: 1, cache });
    const second = buildRoutingTable(snapshotOf(objects), { ...CLASS, generation: 2, cache });
    expect(second.table.exactHosts.get('regex.test')!.patterns).toBe(first.table.exactHosts.get('regex.test')!.patterns);
  });

  it('compiles again only the group of patterns a changed path belongs to', () => {
    const patterns = Array.from({ length: 5000 }, (_, i) => `/v${i}/[a-z]+`);
    const compiled: number[] = [];
    const counting = (group: readonly string[]) => {
      compiled.push(group.length);
      return compileGroup(group);
    };
    const first = new PatternSet(patterns, counting);
    const groups = compiled.length;
    expect(groups).toBe(8);
    const memo = new Map<string, ReturnType<typeof compileGroup>>();
    const memoised = (group: readonly string[]) => {
      const key = group.join('\n');
      if (!memo.has(key)) memo.set(key, counting(group));
      return memo.get(key)!;
    };
    compiled.length = 0;
    new PatternSet(patterns, memoised);
    const changed = new PatternSet(patterns.map((p, i) => (i === 1234 ? '/changed/[0-9]+' : p)), memoised);
    expect(compiled).toHaveLength(groups + 1); // every group once, then only the changed one
    expect(changed.firstMatch('/changed/7')).toBe(1234);
    expect(changed.firstMatch('/v4999/abc')).toBe(first.firstMatch('/v4999/abc'));
  });
});
