// Tables cross to worker threads by structured clone: what arrives must route exactly as what left.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import RE2 from 're2';
import { describe, expect, it } from 'vitest';
import { PatternSet } from '../../src/table/pattern-set.ts';
import { encodeTable, TableDecoder } from '../../src/table/transfer.ts';
import type { RoutingTable } from '../../src/table/types.ts';
import { allHostRoutes } from '../../src/table/match.ts';
import { buildFixture, routeOf } from '../helpers/build-fixture.ts';

const FIXTURES = readdirSync(fileURLToPath(new URL('../fixtures/routing/', import.meta.url)))
  .filter((f) => f.endsWith('.yaml') && f !== '_common.yaml').map((f) => f.replace(/\.yaml$/, ''));

/** The table with its compiled parts replaced by their source, and a count of each kind seen. */
function plain(value: unknown, counts: Record<string, number>, seen = new Map<object, unknown>()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return seen.get(value);
  const count = (kind: string, out: unknown) => { counts[kind] = (counts[kind] ?? 0) + 1; seen.set(value, out); return out; };
  if (value instanceof RE2) return count('re2', { re2: value.source, flags: value.flags });
  if (value instanceof PatternSet) return count('patterns', { patterns: [...value.patterns] });
  if (value instanceof ipaddr.IPv4 || value instanceof ipaddr.IPv6) return count('ip', { ip: value.toString() });
  if (Array.isArray(value)) return value.map((v) => plain(v, counts, seen));
  if (value instanceof Map) return [...value].map(([k, v]) => [k, plain(v, counts, seen)]);
  if (value instanceof Set) return [...value].map((v) => plain(v, counts, seen));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, counts, seen)]));
}

function roundTrip(table: RoutingTable, decoder = new TableDecoder()): RoutingTable {
  return decoder.decode(structuredClone(encodeTable(table)));
}

describe('routing table transfer to workers', () => {
  it.each(FIXTURES)('%s: the decoded table equals the built one, compiled parts compiled again', (name) => {
    const built = buildFixture(name);
    const decoded = roundTrip(built.table);
    const before: Record<string, number> = {};
    const after: Record<string, number> = {};
    expect(plain(decoded, after)).toEqual(plain(built.table, before));
    expect(after).toEqual(before);
    for (const host of allHostRoutes(built.table)) {
      const paths = [...host.exact.keys(), ...host.prefix.keys(), ...host.regex.map((r) => r.path), '/', '/nothing-here'];
      const name = host.host === '*' ? 'unlisted.example' : host.host.replace('*.', 'sub.');
      for (const path of paths) {
        if (!path.startsWith('/')) continue;
        expect(routeOf({ table: decoded, diagnostics: [] }, name, path), `${name}${path}`).toBe(routeOf(built, name, path));
      }
    }
  });

  it('the compiled kinds all occur in the fixtures, so the comparison above covers them', () => {
    const counts: Record<string, number> = {};
    for (const name of FIXTURES) plain(roundTrip(buildFixture(name).table), counts);
    expect(Object.keys(counts).sort()).toEqual(['ip', 'patterns', 're2']);
  });

  it('shared objects stay shared: a backend is one object in the backends map and in its routes', () => {
    const decoded = roundTrip(buildFixture('hosts').table);
    for (const host of allHostRoutes(decoded)) {
      for (const route of [...host.exact.values(), ...host.prefix.values(), ...host.regex]) expect(decoded.backends.get(route.backend.id)).toBe(route.backend);
    }
  });

  it('an unchanged host regex set is reused by the next table; a class the codec does not know is refused by name', () => {
    const decoder = new TableDecoder();
    const first = roundTrip(buildFixture('regex-host').table, decoder);
    const second = roundTrip(buildFixture('regex-host').table, decoder);
    const sets = (t: RoutingTable) => allHostRoutes(t).map((h) => h.patterns).filter(Boolean);
    expect(sets(first).length).toBeGreaterThan(0);
    expect(sets(second)).toEqual(sets(first));
    expect(sets(second)[0]).toBe(sets(first)[0]);

    class Opaque { x = 1; }
    const table = { ...buildFixture('hosts').table, settings: { odd: new Opaque() } } as unknown as RoutingTable;
    expect(() => encodeTable(table)).toThrow('table.settings.odd is a Opaque, not plain data');
    expect(() => encodeTable({ ...table, settings: { f: () => 1 } } as unknown as RoutingTable)).toThrow('table.settings.f is a function');
  });
});
