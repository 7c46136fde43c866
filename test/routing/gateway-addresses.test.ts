// --gateway-addresses: Gateways with an address of their own are told apart by the address a
// request came to, so two Gateways may route the same host and path to different backends.
import { describe, expect, it } from 'vitest';
import { buildRoutingTable } from '../../src/routing/index.ts';
import { snapshotOf, type ManifestObject } from '../../src/sources/manifests.ts';
import { hostRoutes, matchGateway } from '../../src/table/match.ts';
import { CLASS } from '../helpers/build-fixture.ts';

const G = 'gateway.networking.k8s.io/v1';
const gateway = (name: string, created: string): ManifestObject => ({ apiVersion: G, kind: 'Gateway', metadata: { name, namespace: 'infra', creationTimestamp: created }, spec: { gatewayClassName: 'portico', listeners: [{ name: 'http', protocol: 'HTTP', port: 80 }] } }) as unknown as ManifestObject;
const route = (name: string, parents: string[], path: string, service: string): ManifestObject => ({
  apiVersion: G, kind: 'HTTPRoute', metadata: { name, namespace: 'infra' },
  spec: { parentRefs: parents.map((p) => ({ name: p })), rules: [{ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name: service, port: 80 }] }] },
}) as unknown as ManifestObject;
const service = (name: string): ManifestObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'infra' }, spec: { ports: [{ port: 80 }] } }) as unknown as ManifestObject;

const objects = [
  { apiVersion: G, kind: 'GatewayClass', metadata: { name: 'portico' }, spec: { controllerName: 'portico.dev/gateway-controller' } } as unknown as ManifestObject,
  gateway('second', '2026-01-02T00:00:00Z'), gateway('first', '2026-01-01T00:00:00Z'),
  service('a'), service('b'), service('shared'),
  route('to-first', ['first'], '/', 'a'), route('to-second', ['second'], '/', 'b'), route('to-both', ['first', 'second'], '/shared', 'shared'),
];
const backendAt = (table: ReturnType<typeof buildRoutingTable>['table'], address: string | undefined, path: string) => {
  const matches = hostRoutes(table, 'any.test', address)?.gateway ?? [];
  return matchGateway(matches, { method: 'GET', headers: {} }, path, '')?.backend.service;
};

describe('Gateways with addresses of their own', () => {
  it('routes by the address a request came to, oldest Gateway first in the list, and reports the address in status', () => {
    const { table, gatewayStatus } = buildRoutingTable(snapshotOf(objects), { ...CLASS, generation: 1, gatewayAddresses: ['10.0.0.1', '10.0.0.2'] });
    expect([backendAt(table, '10.0.0.1', '/'), backendAt(table, '10.0.0.2', '/'), backendAt(table, '::ffff:10.0.0.2', '/')]).toEqual(['a', 'b', 'b']);
    expect([backendAt(table, '10.0.0.1', '/shared/x'), backendAt(table, '10.0.0.2', '/shared/x')]).toEqual(['shared', 'shared']);
    expect(backendAt(table, '10.0.0.9', '/')).toBeUndefined(); // no Gateway of its own there, and none shared
    expect([gatewayStatus?.gateways.get('infra/first')?.address, gatewayStatus?.gateways.get('infra/second')?.address]).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('serves every Gateway on every address without the flag, the older route winning a tie', () => {
    const { table, gatewayStatus } = buildRoutingTable(snapshotOf(objects), { ...CLASS, generation: 1 });
    expect(['10.0.0.1', '10.0.0.2', undefined].map((a) => backendAt(table, a, '/'))).toEqual(['a', 'a', 'a']);
    expect(gatewayStatus?.gateways.get('infra/first')?.address).toBeUndefined();
  });
});
