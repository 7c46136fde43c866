// --gateway-addresses: Gateways with an address of their own are told apart by the address a
// request came to, so two Gateways may route the same host and path to different backends.
import { describe, expect, it } from 'vitest';
import { buildRoutingTable } from '../../src/routing/index.ts';
import { snapshotOf, type ManifestObject } from '../../src/sources/manifests.ts';
import { hostRoutes, matchGateway } from '../../src/table/match.ts';
import { CLASS } from '../helpers/build-fixture.ts';

const G = 'gateway.networking.k8s.io/v1';
const gateway = (name: string, created: string, addresses?: { type?: string; value?: string }[]): ManifestObject => ({ apiVersion: G, kind: 'Gateway', metadata: { name, namespace: 'infra', creationTimestamp: created }, spec: { gatewayClassName: 'portico', listeners: [{ name: 'http', protocol: 'HTTP', port: 80 }], ...(addresses ? { addresses } : {}) } }) as unknown as ManifestObject;
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

  it('gives a Gateway the address it asks for when it is on the list and free, and says why not otherwise', () => {
    const asking = (name: string, created: string, addresses: { type?: string; value?: string }[]) => [gateway(name, created, addresses), route(`to-${name}`, [name], '/', 'a')];
    const { table, gatewayStatus } = buildRoutingTable(snapshotOf([
      ...objects,
      ...asking('third', '2026-01-03T00:00:00Z', [{ value: '10.0.0.4' }]), // on the list, free
      ...asking('fourth', '2026-01-04T00:00:00Z', [{ type: 'IPAddress' }]), // any: the next free one
      ...asking('late', '2026-01-05T00:00:00Z', [{ value: '10.0.0.1' }]), // the oldest Gateway's already
      ...asking('outside', '2026-01-06T00:00:00Z', [{ value: '192.0.2.1' }]),
      ...asking('named', '2026-01-07T00:00:00Z', [{ type: 'Hostname', value: 'gw.example.com' }]),
    ]), { ...CLASS, generation: 1, gatewayAddresses: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'] });
    const status = (name: string) => gatewayStatus?.gateways.get(`infra/${name}`);
    const conditions = (name: string) => Object.fromEntries(status(name)!.conditions.map((c) => [c.type, `${c.status} ${c.reason}`]));
    // Older Gateways keep theirs: first and second take 10.0.0.1 and .2 in age order, whatever the newer ones ask for.
    expect(['first', 'second', 'third', 'fourth'].map((n) => status(n)?.address)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.4', '10.0.0.3']);
    expect(conditions('third')).toEqual({ Accepted: 'True Accepted', Programmed: 'True Programmed' });
    expect(backendAt(table, '10.0.0.4', '/')).toBe('a');
    expect(conditions('late')).toEqual({ Accepted: 'True Accepted', Programmed: 'False AddressNotUsable' });
    expect(conditions('outside')).toEqual({ Accepted: 'True Accepted', Programmed: 'False AddressNotUsable' });
    expect(conditions('named')).toEqual({ Accepted: 'False UnsupportedAddress', Programmed: 'False Invalid' });
    // Those three are not served at all, not even on the addresses Gateways share.
    expect(backendAt(table, '10.0.0.9', '/')).toBeUndefined();
  });
});
