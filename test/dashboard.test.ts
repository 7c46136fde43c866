// The admin dashboard in a real headless browser (Debian's chromium, driven by playwright-core):
// the summary, hosts with a page each, endpoint health, certificates with days left, diagnostics
// by object, search and the problems filter, live changes; and a 1,000-Ingress table at
// 1400×900 that filters without rebuilding its rows.
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from './helpers/backends.ts';
import { TestCA, tlsSecret } from './helpers/certs.ts';
import { send } from './helpers/http.ts';
import { ingress, service } from './helpers/manifests.ts';
import { startPortico, type RunningPortico } from './helpers/portico.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** The rows of a table body the filter leaves visible, as text. */
function visibleRows(page: Page, tbody: string): Promise<string[]> {
  return page.locator(`#${tbody} tr:not([hidden])`).allInnerTexts();
}

describe('dashboard', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  let browser: Browser;
  let page: Page;
  const text = (id: string) => page.locator(`#${id}`).innerText();
  const show = async (view: string) => {
    await page.evaluate((hash) => (location.hash = hash), view);
    await expect.poll(() => page.locator(`#view-${view.startsWith('host/') ? 'host' : view}`).isVisible()).toBe(true);
  };

  beforeAll(async () => {
    const ca = await TestCA.create();
    const echo = { address: '127.0.12.1', port: await backends.echo('echo', '127.0.12.1') };
    const dead = { address: '127.0.12.2', port: await backends.closedPort('127.0.12.2') };
    portico = await startPortico({
      'svc.yaml': [service('echo', [echo, { address: '127.0.12.3', port: 8080, ready: false }]), service('dead', [dead]), service('empty', [])].join('---\n'),
      'app.yaml': [
        ingress({ name: 'app', host: 'app.test', path: '/api', service: 'echo', annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '30', 'nginx.ingress.kubernetes.io/proxy-body-size': '8m', 'nginx.ingress.kubernetes.io/rewrite-target': '/v2' } }),
        ingress({ name: 'moved', host: 'moved.test', service: 'echo', annotations: { 'nginx.ingress.kubernetes.io/permanent-redirect': 'https://app.test/' } }),
        ingress({ name: 'down', host: 'down.test', service: 'empty' }),
        ingress({ name: 'flaky', host: 'flaky.test', service: 'dead' }),
      ].join('---\n'),
      'tls.yaml': `${tlsSecret('app-tls', await ca.issue(['secure.test']))}---\napiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: secure}
spec:
  ingressClassName: portico
  tls: [{hosts: [secure.test], secretName: app-tls}]
  rules: [{host: secure.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}}]
`,
    });
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`http://127.0.0.1:${portico.adminPort}/`);
  });

  afterAll(async () => {
    await browser?.close();
    await portico?.stop();
    await backends.close();
  });

  it('sums the table up: version, counts with health badges, request rate and 5xx share', async () => {
    await expect.poll(() => text('count-hosts')).toBe('5');
    expect(await text('version')).toMatch(/^\d+\.\d+\.\d+/);
    expect(await text('count-routes')).toBe('5');
    expect(await text('count-backends')).toBe('3');
    expect(await text('count-endpoints')).toBe('2 / 3');
    expect(await text('badge-backends')).toBe('1 down');
    expect(await text('badge-diagnostics')).toBe('none');
    for (let i = 0; i < 4; i++) expect((await send(portico.httpPort, 'flaky.test', '/')).status).toBeGreaterThanOrEqual(500);
    for (let i = 0; i < 4; i++) expect((await send(portico.httpPort, 'app.test', '/api')).status).toBe(200);
    await expect.poll(() => text('error-rate'), { timeout: 5000 }).toBe('50.0 %');
    expect(Number(await text('request-rate'))).toBeGreaterThan(0);
  });

  it('lists hosts with their status and links each to a page of its routes, options and endpoints', async () => {
    await show('hosts');
    await expect.poll(() => visibleRows(page, 'hosts')).toContainEqual(expect.stringMatching(/^app\.test\s+ok\s+1\s+–\s+default\/app\s+default\/echo:80$/));
    expect(await visibleRows(page, 'hosts')).toContainEqual(expect.stringMatching(/^down\.test\s+no ready endpoints\s+1/));
    expect(await visibleRows(page, 'hosts')).toContainEqual(expect.stringMatching(/^secure\.test\s+ok\s+1\s+yes/));
    await page.locator('#hosts a', { hasText: 'app.test' }).click();
    await expect.poll(() => text('host-title')).toBe('app.test');
    // Timeouts connect/send/read, the body limit, the HTTPS flags and what else differs from the defaults.
    expect(await visibleRows(page, 'host-routes')).toEqual([expect.stringMatching(/^\/api\s+Prefix\s+default\/app\s+default\/echo:80\s+5 \/ 60 \/ 30 s\s+8m\s+ssl-redirect, HSTS\s+rewriteTarget: \/v2/)]);
    expect(await visibleRows(page, 'host-endpoints')).toEqual([
      expect.stringMatching(/^default\/echo:80\s+127\.0\.12\.1:\d+\s+\S+\s+ready/),
      expect.stringMatching(/^default\/echo:80\s+127\.0\.12\.3:8080\s+\S+\s+not ready/),
    ]);
    await show('host/moved.test');
    expect(await visibleRows(page, 'host-routes')).toEqual([expect.stringMatching(/default\/moved\s+redirect 301 → https:\/\/app\.test\//)]);
    await show('host/secure.test');
    expect(await text('host-meta')).toMatch(/TLS: default\/app-tls, \d+ days left/);
  });

  it('shows endpoints with their readiness and recent errors', async () => {
    await show('backends');
    await expect.poll(() => text('endpoints')).toMatch(/default\/dead:80\s+127\.0\.12\.2:\d+\s+\S+\s+ejected\s+\d+\s+100\.0 %/);
    expect(await text('endpoints')).toMatch(/default\/empty:80\s+no endpoints/);
    expect(await text('endpoints')).toMatch(/default\/echo:80\s+127\.0\.12\.1:\d+\s+\S+\s+ready/);
  });

  it('lists certificates with days left, the default certificate first', async () => {
    await show('certificates');
    await expect.poll(() => visibleRows(page, 'certificates')).toEqual([
      expect.stringMatching(/^\(default certificate\)\s+generated at start \(self-signed\)\s+\d{4}-\d\d-\d\dT\S+\s+36[45]$/),
      expect.stringMatching(/^secure\.test\s+default\/app-tls\s+\d{4}-\d\d-\d\dT\S+\s+0$/),
    ]);
    // Under two weeks left is a problem worth the filter.
    await page.locator('#problems').check();
    expect(await visibleRows(page, 'certificates')).toEqual([expect.stringMatching(/^secure\.test/)]);
    await page.locator('#problems').uncheck();
  });

  it('filters every view by words typed and by problems only, without reloading', async () => {
    await show('hosts');
    await page.locator('#search').fill('echo secure');
    expect(await visibleRows(page, 'hosts')).toEqual([expect.stringMatching(/^secure\.test/)]);
    await page.locator('#search').fill('');
    await page.locator('#problems').check();
    // down.test has no endpoints; flaky.test's one is ejected for a while after its failures.
    const problems = (await visibleRows(page, 'hosts')).map((row) => row.split(/\s/)[0]);
    expect(problems).toContain('down.test');
    expect(problems.filter((host) => host !== 'down.test' && host !== 'flaky.test')).toEqual([]);
    await page.locator('#problems').uncheck();
    expect(await visibleRows(page, 'hosts')).toHaveLength(5);
  });

  it('follows a manifest change without a reload, diagnostics grouped by object', async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    await portico.apply('new.yaml', ingress({ name: 'fresh', host: 'fresh.test', service: 'echo', annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '30s', 'nginx.ingress.kubernetes.io/proxy-send-timeout': 'soon' } }));
    await show('hosts');
    await expect.poll(() => text('hosts')).toContain('fresh.test');
    expect(await visibleRows(page, 'hosts')).toContainEqual(expect.stringMatching(/^fresh\.test\s+diagnostics/));
    await show('diagnostics');
    await expect.poll(() => visibleRows(page, 'diagnostics')).toHaveLength(3);
    const [group, ...rows] = await visibleRows(page, 'diagnostics');
    expect(group).toBe('Ingress default/fresh · 2 diagnostics');
    expect(rows.map((row) => /^Warning\s+InvalidAnnotation\s+metadata\.annotations\[nginx\.ingress\.kubernetes\.io\/(proxy-\w+-timeout)\]/.exec(row)?.[1]).sort())
      .toEqual(['proxy-read-timeout', 'proxy-send-timeout']);
    await page.locator('#search').fill('send-timeout');
    expect(await visibleRows(page, 'diagnostics')).toEqual(['Ingress default/fresh · 2 diagnostics', expect.stringMatching(/proxy-send-timeout/)]);
    await page.locator('#search').fill('');
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42); // same page, no reload
  });

  it('never renders names from the cluster as HTML', async () => {
    await portico.apply('evil.yaml', ingress({ name: 'evil', host: 'evil.test', service: 'echo', annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '<img src=x onerror="document.title=1">' } }));
    await show('diagnostics');
    await expect.poll(() => text('diagnostics')).toContain('<img src=x');
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.title()).toBe('Portico');
  });
});

describe('dashboard with 1,000 Ingresses', () => {
  let portico: RunningPortico;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    const ingresses = Array.from({ length: 1000 }, (_, i) => ingress({
      name: `app-${i}`, host: `app-${i}.team-${i % 20}.example.com`, path: `/service-${i}/with/a/rather/long/path/to/wrap`, service: i % 100 === 7 ? 'missing' : 'echo',
      annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': String(30 + (i % 5)) },
    }));
    portico = await startPortico({ 'svc.yaml': service('echo', [{ address: '127.0.12.9', port: 8080 }]), 'apps.yaml': ingresses.join('---\n') });
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`http://127.0.0.1:${portico.adminPort}/`);
    await page.waitForFunction(() => document.querySelectorAll('#hosts tr').length === 1000, null, { timeout: 10_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await portico?.stop();
  });

  it('renders every view at 1400×900 without horizontal overflow', async () => {
    for (const view of ['hosts', 'host/app-1.team-1.example.com', 'backends', 'certificates', 'diagnostics']) {
      await page.evaluate((hash) => (location.hash = hash), view);
      await page.waitForFunction((id) => !document.getElementById(id)!.hidden, `view-${view.startsWith('host/') ? 'host' : view}`);
      const shot = await page.screenshot();
      expect([shot.readUInt32BE(16), shot.readUInt32BE(20)]).toEqual([1400, 900]); // PNG width and height
      const [scroll, client] = await page.evaluate((): [number, number] => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      expect(scroll, `${view}: page ${scroll} px wide in a ${client} px window`).toBeLessThanOrEqual(client);
    }
  });

  it('filters 1,000 hosts by hiding rows, never rebuilding them', async () => {
    await page.evaluate(() => (location.hash = 'hosts'));
    await page.waitForFunction(() => !document.getElementById('view-hosts')!.hidden);
    // Count the rows the page adds or removes while the filter runs: showing and hiding only.
    const elapsed = await page.evaluate(async () => {
      const tbody = document.getElementById('hosts')!;
      const w = window as unknown as { rebuilt: number };
      w.rebuilt = 0;
      new MutationObserver((records) => (w.rebuilt += records.filter((r) => r.type === 'childList').length)).observe(tbody, { childList: true });
      const search = document.getElementById('search') as HTMLInputElement;
      const start = performance.now();
      for (const words of ['team-7', 'team-7 app-107', 'missing', '']) {
        search.value = words;
        search.dispatchEvent(new Event('input'));
      }
      return (performance.now() - start) / 4;
    });
    console.log(`dashboard: filtering 1,000 hosts took ${elapsed.toFixed(1)} ms per keystroke (in-page, four filters)`);
    await page.locator('#search').fill('team-7 app-107');
    expect(await visibleRows(page, 'hosts')).toEqual([expect.stringMatching(/^app-107\.team-7\.example\.com\s+no ready endpoints/)]);
    await page.locator('#search').fill('');
    await page.locator('#problems').check();
    expect(await page.locator('#hosts tr:not([hidden])').count()).toBe(10);
    await page.locator('#problems').uncheck();
    // Polls go on every second: with nothing changed, the rows stay the same elements.
    for (let i = 0; i < 2; i++) await page.waitForResponse((r) => r.url().endsWith('/debug/dashboard'));
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 50))); // the second poll's render
    expect(await page.evaluate(() => (window as unknown as { rebuilt: number }).rebuilt)).toBe(0);
  });
});
