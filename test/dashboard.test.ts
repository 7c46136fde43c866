// The admin dashboard in a real headless browser (Debian's chromium, driven by playwright-core):
// it shows the table, endpoint health, diagnostics and certificates, and follows changes live.
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from './helpers/backends.ts';
import { TestCA, tlsSecret } from './helpers/certs.ts';
import { send } from './helpers/http.ts';
import { ingress, service } from './helpers/manifests.ts';
import { startPortico, type RunningPortico } from './helpers/portico.ts';

describe('dashboard', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  let browser: Browser;
  let page: Page;
  const text = (id: string) => page.locator(`#${id}`).innerText();

  beforeAll(async () => {
    const ca = await TestCA.create();
    const echo = { address: '127.0.12.1', port: await backends.echo('echo', '127.0.12.1') };
    const dead = { address: '127.0.12.2', port: await backends.closedPort('127.0.12.2') };
    portico = await startPortico({
      'svc.yaml': `${service('echo', [echo, { address: '127.0.12.3', port: 8080, ready: false }])}---\n${service('dead', [dead])}`,
      'app.yaml': `${ingress({ name: 'app', host: 'app.test', path: '/api', service: 'echo' })}---\n${ingress({ name: 'down', host: 'down.test', service: 'dead' })}`,
      'tls.yaml': `${tlsSecret('app-tls', await ca.issue(['secure.test']))}---\napiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: secure}
spec:
  ingressClassName: portico
  tls: [{hosts: [secure.test], secretName: app-tls}]
  rules: [{host: secure.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}}]
`,
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${portico.adminPort}/`);
  });

  afterAll(async () => {
    await browser?.close();
    await portico?.stop();
    await backends.close();
  });

  it('shows hosts, paths and backends', async () => {
    await expect.poll(() => text('routes')).toContain('app.test');
    const routes = await text('routes');
    expect(routes).toMatch(/app\.test\s+\/api\s+Prefix\s+default\/app\s+default\/echo:80/);
  });

  it('shows endpoints with their readiness and recent errors', async () => {
    expect((await send(portico.httpPort, 'down.test', '/')).status).toBe(502);
    await expect.poll(() => text('endpoints')).toMatch(/default\/dead:80\s+127\.0\.12\.2:\d+\s+\S+\s+ejected\s+1\s+100\.0 %/);
    const endpoints = await text('endpoints');
    expect(endpoints).toMatch(/default\/echo:80\s+127\.0\.12\.1:\d+\s+\S+\s+ready/);
    expect(endpoints).toMatch(/127\.0\.12\.3:8080\s+\S+\s+not ready/);
  });

  it('shows certificates with their expiry', async () => {
    await expect.poll(() => text('certificates')).toMatch(/secure\.test\s+default\/app-tls\s+\d{4}-\d\d-\d\dT/);
  });

  it('follows a manifest change without a reload, diagnostics included', async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    await portico.apply('new.yaml', ingress({ name: 'fresh', host: 'fresh.test', service: 'echo', annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '30s' } }));
    await expect.poll(() => text('routes')).toContain('fresh.test');
    await expect.poll(() => text('diagnostics')).toMatch(/Warning\s+InvalidAnnotation\s+Ingress default\/fresh\s+metadata\.annotations\[nginx\.ingress\.kubernetes\.io\/proxy-read-timeout\]/);
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42); // same page, no reload
  });

  it('never renders names from the cluster as HTML', async () => {
    await portico.apply('evil.yaml', ingress({ name: 'evil', host: 'evil.test', service: 'echo', annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '<img src=x onerror="document.title=1">' } }));
    await expect.poll(() => text('diagnostics')).toContain('<img src=x');
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.title()).toBe('Portico');
  });
});
