// The annotation cache is memoisation only: a build with it gives the table a build without it
// gives, for the same snapshot and after the objects an annotation reads have changed.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { BuildCache, buildRoutingTable } from '../../src/routing/index.ts';
import type { ObjectSnapshot } from '../../src/snapshot.ts';
import { CLASS, fixtureSnapshot } from '../helpers/build-fixture.ts';

const FIXTURES = readdirSync(fileURLToPath(new URL('../fixtures/routing/', import.meta.url))).filter((f) => !f.startsWith('_')).map((f) => f.replace(/\.yaml$/, ''));
const CONFIG_MAP = { configMap: 'portico/controller' };

describe('the annotation cache', () => {
  it.each(FIXTURES)('%s: a cached build is the build without the cache, twice over', (name) => {
    const snapshot = fixtureSnapshot(name);
    const cache = new BuildCache();
    const fresh = buildRoutingTable(snapshot, { ...CLASS, ...CONFIG_MAP, generation: 1 });
    for (let i = 0; i < 2; i++) {
      const cached = buildRoutingTable(snapshot, { ...CLASS, ...CONFIG_MAP, generation: 1, cache });
      expect(cached.table).toEqual(fresh.table);
      expect(cached.diagnostics).toEqual(fresh.diagnostics);
    }
  });

  it('parses again when a Secret an annotation reads changes, appears or goes away', () => {
    const snapshot = fixtureSnapshot('annotations-basic-auth');
    const cache = new BuildCache();
    const build = (s: ObjectSnapshot) => buildRoutingTable(s, { ...CLASS, generation: 1, cache });
    /** The users the route admits, or `deny` when it cannot be protected. */
    const users = (s: ObjectSnapshot): string => {
      const steps = build(s).table.exactHosts.get('valid.example.com')?.prefix.get('/')?.steps ?? [];
      const auth = steps.find((step) => step.kind === 'basic-auth');
      return auth ? [...auth.policy.users.keys()].join(',') : steps.map((step) => step.kind).join(',');
    };
    const before = users(snapshot);
    const secrets = new Map(snapshot.secrets);
    const changed: V1Secret = { ...secrets.get('default/htpasswd')!, data: { auth: Buffer.from('erin:{PLAIN}y\n').toString('base64') } };
    secrets.set('default/htpasswd', changed);
    const withChange = { ...snapshot, secrets };
    expect(before).toBe('alice,bob');
    expect(users(withChange)).toBe('erin');
    expect(build(withChange).table).toEqual(buildRoutingTable(withChange, { ...CLASS, generation: 1 }).table);
    secrets.delete('default/htpasswd');
    const withoutSecret = { ...snapshot, secrets: new Map(secrets) };
    expect(users(withoutSecret)).toBe('deny');
    expect(build(withoutSecret).diagnostics).toEqual(buildRoutingTable(withoutSecret, { ...CLASS, generation: 1 }).diagnostics);
    expect(users(snapshot)).toBe(before);
  });
});
