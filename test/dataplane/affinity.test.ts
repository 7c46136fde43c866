// Cookie affinity and consistent hashing, observed across two Portico processes over the same
// manifests: a pin must hold on every replica, so it may not live in process memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendToken } from '../../src/dataplane/backend-choice.ts';
import { token } from '../../src/dataplane/hashing.ts';
import { BackendSet } from '../helpers/backends.ts';
import { echoed, send, type Reply } from '../helpers/http.ts';
import { ingress as manifest, service, type EndpointSpec } from '../helpers/manifests.ts';
import { startPortico, type RunningPortico } from '../helpers/portico.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

function ingress(name: string, host: string, svc: string, annotations: Record<string, string> = {}): string {
  return manifest({ name, host, service: svc, annotations, path: '/app' });
}


const cookieOf = (reply: Reply): string | undefined => {
  const header = reply.headers['set-cookie'];
  return Array.isArray(header) ? header[0] : header;
};
const pair = (setCookie: string): string => setCookie.split(';')[0]!;

describe('session affinity and hashing', () => {
  const backends = new BackendSet();
  const replicas: RunningPortico[] = [];
  let pods: EndpointSpec[] = [];
  let manifests: Record<string, string>;

  beforeAll(async () => {
    pods = await Promise.all(['127.0.60.1', '127.0.60.2', '127.0.60.3', '127.0.60.4'].map(async (a, i) => ({ address: a, port: await backends.echo(`pod-${i}`, a) })));
    const refused = { address: '127.0.60.9', port: await backends.closedPort('127.0.60.9') };
    const other = { address: '127.0.61.1', port: await backends.echo('canary', '127.0.61.1') };
    const cookie = { [`${NGINX}affinity`]: 'cookie' };
    manifests = {
      'apps.yaml': [
        service('pods', pods), service('flaky', [refused, ...pods.slice(0, 2)]), service('next', [other]),
        ingress('balanced', 'balanced.test', 'pods', { ...cookie, [`${NGINX}session-cookie-samesite`]: 'None', [`${NGINX}session-cookie-max-age`]: '3600' }),
        ingress('persistent', 'persistent.test', 'pods', { ...cookie, [`${NGINX}affinity-mode`]: 'persistent', [`${NGINX}session-cookie-name`]: 'route', [`${NGINX}session-cookie-path`]: '/' }),
        ingress('change', 'change.test', 'flaky', { ...cookie, [`${NGINX}affinity-mode`]: 'persistent', [`${NGINX}session-cookie-change-on-failure`]: 'true' }),
        ingress('keep', 'keep.test', 'flaky', { ...cookie, [`${NGINX}affinity-mode`]: 'persistent' }),
        ingress('sticky', 'sticky.test', 'pods', cookie),
        // As ingress-nginx, a canary keeps its own affinity (and load-balance, upstream-hash-by).
        ingress('sticky-canary', 'sticky.test', 'next', { ...cookie, [`${NGINX}canary`]: 'true', [`${NGINX}canary-by-header`]: 'x-canary' }),
        ingress('hashed', 'hashed.test', 'pods', { [`${NGINX}upstream-hash-by`]: '$arg_user' }),
        ingress('ewma', 'ewma.test', 'pods', { [`${NGINX}load-balance`]: 'ewma' }),
      ].join('---\n'),
    };
    replicas.push(await startPortico(manifests), await startPortico(manifests));
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await backends.close();
  });

  const get = (replica: number, host: string, headers: Record<string, string> = {}, path = '/app/x') => send(replicas[replica]!.httpPort, host, path, { headers });

  it.each(['balanced', 'persistent'])('%s: the cookie of one replica pins the same pod on the other', async (mode) => {
    for (let client = 0; client < 4; client++) {
      const first = await get(0, `${mode}.test`);
      const setCookie = cookieOf(first)!;
      expect(setCookie).toBeDefined();
      const pinned = echoed(first).server;
      for (let i = 0; i < 6; i++) {
        const reply = await get(i % 2, `${mode}.test`, { cookie: pair(setCookie) });
        expect(echoed(reply).server).toBe(pinned);
        expect(cookieOf(reply)).toBeUndefined();
      }
    }
  });

  it('sets the cookie as configured: name, path (the location unless set), HttpOnly, SameSite, Max-Age', async () => {
    const balanced = cookieOf(await get(0, 'balanced.test'))!;
    expect(balanced).toMatch(/^INGRESSCOOKIE=[0-9a-f]+\|[0-9a-f]{8}; Max-Age=3600; Path=\/app; HttpOnly; SameSite=None$/);
    const chrome60 = cookieOf(await get(0, 'balanced.test', { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.113 Safari/537.36' }))!;
    expect(chrome60).toMatch(/SameSite=None/); // conditional-samesite-none is off here
    expect(cookieOf(await get(0, 'persistent.test'))).toMatch(/^route=[0-9a-f]{16}\|[0-9a-f]{8}; Path=\/; HttpOnly$/);
  });

  it('persistent: a cookie for a pod that left the Service is re-pinned', async () => {
    const stale = `route=0123456789abcdef|${pair(cookieOf(await get(0, 'persistent.test'))!).split('|')[1]}`;
    const reply = await get(1, 'persistent.test', { cookie: stale });
    expect(reply.status).toBe(200);
    expect(cookieOf(reply)).toMatch(/^route=/);
  });

  it('change-on-failure: a pin to a pod that refuses moves to the pod that answered; without it the pin stays', async () => {
    const flaky = replicas[0]!.app.current!.backends.get('default/flaky:80')!;
    const dead = flaky.endpoints.find((e) => e.address === '127.0.60.9')!;
    const pin = `INGRESSCOOKIE=${token(`${flaky.id}\u0000${dead.key}`)}|${backendToken(flaky)}`;
    const kept = await get(0, 'keep.test', { cookie: pin });
    expect(kept.status).toBe(200);
    expect(cookieOf(kept)).toBeUndefined();
    const moved = await get(1, 'change.test', { cookie: pin });
    expect(moved.status).toBe(200);
    const repinned = pair(cookieOf(moved)!);
    expect(repinned).not.toBe(pin);
    for (let i = 0; i < 4; i++) expect(echoed(await get(i % 2, 'change.test', { cookie: repinned })).server).toBe(echoed(moved).server);
  });

  it('affinity-canary-behavior sticky: a client pinned to the canary stays there without the header', async () => {
    const toCanary = await get(0, 'sticky.test', { 'x-canary': 'always' });
    expect(echoed(toCanary).server).toBe('canary');
    const pin = pair(cookieOf(toCanary)!);
    for (let i = 0; i < 4; i++) expect(echoed(await get(i % 2, 'sticky.test', { cookie: pin })).server).toBe('canary');
    const toMain = pair(cookieOf(await get(0, 'sticky.test'))!);
    expect(echoed(await get(1, 'sticky.test', { cookie: toMain, 'x-canary': 'always' })).server).not.toBe('canary');
  });

  it('upstream-hash-by $arg_user: one user, one pod, on every replica; users spread over the pods', async () => {
    const seen = new Set<string>();
    for (let user = 0; user < 24; user++) {
      const servers = new Set<string>();
      for (let i = 0; i < 4; i++) servers.add(echoed(await get(i % 2, 'hashed.test', {}, `/app/x?user=u${user}`)).server);
      expect(servers.size).toBe(1);
      seen.add([...servers][0]!);
    }
    expect(seen.size).toBeGreaterThanOrEqual(3);
  });

  it('load-balance ewma: serves from every healthy pod', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) seen.add(echoed(await get(0, 'ewma.test')).server);
    expect(seen.size).toBeGreaterThanOrEqual(2);
  });
});
