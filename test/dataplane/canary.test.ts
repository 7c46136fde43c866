// Canary Ingresses with real backends: which backend answers, by header, cookie and weight.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from '../helpers/backends.ts';
import { echoed, send } from '../helpers/http.ts';
import { ingress as manifest, service } from '../helpers/manifests.ts';
import { startPortico, type RunningPortico } from '../helpers/portico.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

function ingress(name: string, host: string, svc: string, annotations: Record<string, string> = {}): string {
  return manifest({ name, host, service: svc, annotations });
}

const canary = (name: string, host: string, annotations: Record<string, string>) => ingress(name, host, 'canary', { [`${NGINX}canary`]: 'true', ...annotations });

describe('canary', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  const who = async (host: string, headers: Record<string, string> = {}): Promise<string> => echoed(await send(portico.httpPort, host, '/', { headers })).server;
  const tally = async (host: string, n: number): Promise<number> => {
    let toCanary = 0;
    for (let i = 0; i < n; i++) if ((await who(host)) === 'canary') toCanary++;
    return toCanary;
  };

  beforeAll(async () => {
    const stable = { address: '127.0.50.1', port: await backends.echo('stable', '127.0.50.1') };
    const next = { address: '127.0.50.2', port: await backends.echo('canary', '127.0.50.2') };
    portico = await startPortico({
      'apps.yaml': [
        service('stable', [stable]), service('canary', [next]),
        ingress('header', 'header.test', 'stable'), canary('header-canary', 'header.test', { [`${NGINX}canary-by-header`]: 'X-Canary', [`${NGINX}canary-by-cookie`]: 'use_canary', [`${NGINX}canary-weight`]: '0' }),
        ingress('value', 'value.test', 'stable'), canary('value-canary', 'value.test', { [`${NGINX}canary-by-header`]: 'X-Version', [`${NGINX}canary-by-header-value`]: 'v2', [`${NGINX}canary-weight`]: '100' }),
        ingress('pattern', 'pattern.test', 'stable'), canary('pattern-canary', 'pattern.test', { [`${NGINX}canary-by-header`]: 'X-Version', [`${NGINX}canary-by-header-pattern`]: '^v[3-9]$' }),
        ingress('w0', 'w0.test', 'stable'), canary('w0-canary', 'w0.test', { [`${NGINX}canary-weight`]: '0' }),
        ingress('w100', 'w100.test', 'stable'), canary('w100-canary', 'w100.test', { [`${NGINX}canary-weight`]: '100' }),
        ingress('w30', 'w30.test', 'stable'), canary('w30-canary', 'w30.test', { [`${NGINX}canary-weight`]: '30' }),
        ingress('total', 'total.test', 'stable'), canary('total-canary', 'total.test', { [`${NGINX}canary-weight`]: '999', [`${NGINX}canary-weight-total`]: '1000' }),
      ].join('---\n'),
    });
  });

  afterAll(async () => {
    await portico?.stop();
    await backends.close();
  });

  it('by header: always and never; any other value falls through to the cookie, then the weight', async () => {
    expect(await who('header.test', { 'x-canary': 'always' })).toBe('canary');
    expect(await who('header.test', { 'x-canary': 'never', cookie: 'use_canary=always' })).toBe('stable');
    expect(await who('header.test', { 'x-canary': 'maybe', cookie: 'use_canary=always' })).toBe('canary');
    expect(await who('header.test', { cookie: 'a=b; use_canary=always' })).toBe('canary');
    expect(await who('header.test', { cookie: 'use_canary=never' })).toBe('stable');
    expect(await who('header.test')).toBe('stable');
  });

  it('by header value: only that value goes to the canary; others fall through (here to weight 100)', async () => {
    expect(await who('value.test', { 'x-version': 'v2' })).toBe('canary');
    expect(await who('value.test', { 'x-version': 'never' })).toBe('canary');
  });

  it('by header pattern (RE2)', async () => {
    expect(await who('pattern.test', { 'x-version': 'v4' })).toBe('canary');
    expect(await who('pattern.test', { 'x-version': 'v2' })).toBe('stable');
  });

  it('by weight: 0 never, 100 always, 30 about 30 %, and a total above 100', async () => {
    expect(await tally('w0.test', 100)).toBe(0);
    expect(await tally('w100.test', 100)).toBe(100);
    const n = 600;
    const thirty = await tally('w30.test', n);
    // Binomial(600, 0.3): mean 180, sd 11.2; ±50 is 4.5 sd.
    expect(thirty).toBeGreaterThan(130);
    expect(thirty).toBeLessThan(230);
    expect(await tally('total.test', 100)).toBeGreaterThan(95);
  });

  it('fills the canary label of the request metrics with the canary upstream', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${portico.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/nginx_ingress_controller_requests\{status="200",method="GET",host="w100\.test",path="\/",namespace="default",ingress="w100",service="stable",canary="default-canary-80"[^}]*\} 100/);
    expect(metrics).toMatch(/nginx_ingress_controller_requests\{status="200",method="GET",host="w0\.test",path="\/",namespace="default",ingress="w0",service="stable",canary=""[^}]*\} 100/);
  });
});
