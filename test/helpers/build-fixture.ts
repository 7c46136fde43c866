import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildRoutingTable, type BuildOptions } from '../../src/routing/index.ts';
import type { ObjectSnapshot } from '../../src/snapshot.ts';
import { parseManifest, snapshotOf } from '../../src/sources/manifests.ts';
import type { BuildResult } from '../../src/table/types.ts';
import { hostKey, matchRoute } from '../../src/table/match.ts';
import { normaliseRequestPath } from '../../src/table/paths.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/routing/', import.meta.url));

export const CLASS = { controllerName: 'portico.dev/ingress-controller', ingressClass: 'portico' };

function load(file: string) {
  const parsed = parseManifest(readFileSync(FIXTURES + file, 'utf8'), file);
  if (parsed.problems.length > 0) throw new Error(`fixture ${file}: ${parsed.problems.map((p) => p.message).join('; ')}`);
  return parsed.objects;
}

/** Builds `_common.yaml` plus one case fixture, as the standalone source would. */
export function buildFixture(name: string, options: Partial<BuildOptions> = {}): ReturnType<typeof buildRoutingTable> {
  return buildRoutingTable(fixtureSnapshot(name), { ...CLASS, generation: 1, ...options });
}

export function fixtureSnapshot(name: string): ObjectSnapshot {
  return snapshotOf([...load('_common.yaml'), ...load(`${name}.yaml`)]);
}

/** What a request to host+path reaches, as `namespace/service:port`, or `404`. */
export function routeOf(result: BuildResult, host: string, path: string): string {
  const m = matchRoute(result.table, hostKey(host), normaliseRequestPath(path)!);
  return m ? m.route.backend.id : '404';
}
