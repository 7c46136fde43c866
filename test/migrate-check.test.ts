// portico migrate-check: every annotation and ConfigMap key of an ingress-nginx setup, judged by
// the same annotation families and ConfigMap reader the build uses.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { migrationReport, type MigrationReport } from '../src/migrate/report.ts';
import { loadPath } from '../src/migrate/load.ts';
import { IMPLEMENTED_CONFIG_KEYS } from '../src/routing/config-map/index.ts';
import { SUPPORTED_ANNOTATIONS } from '../src/routing/annotations/index.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/migrate/kubectl-get-all.yaml', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const OPTIONS = { ingressClass: 'portico', controllerName: 'portico.dev/ingress-controller', configMap: 'ingress-nginx/ingress-nginx-controller' };

describe('migrate-check', () => {
  it('judges each annotation as the build does', async () => {
    const report = migrationReport((await loadPath(FIXTURE)).snapshot, OPTIONS);
    const shop = report.ingresses.find((i) => i.ingress === 'web/shop')!;
    expect(shop.class).toBe('change');
    expect(Object.fromEntries(shop.annotations.map((f) => [f.key.split('/')[1], f.verdict]))).toEqual({
      'configuration-snippet': 'unsupported', 'enable-opentelemetry': 'unsupported', 'proxy-buffering': 'differs', 'proxy-read-timeout': 'invalid', 'rewrite-target': 'supported',
    });
    expect(shop.annotations.find((f) => f.key.endsWith('proxy-read-timeout'))!.note).toContain('"30s" is not a positive whole number of seconds');
    expect(report.ingresses.find((i) => i.ingress === 'web/ready')!.class).toBe('ours');
    expect(report.ingresses.find((i) => i.ingress === 'web/traefik')!.class).toBe('other');
  });

  it('judges each ConfigMap key, and sums it up', async () => {
    const report = migrationReport((await loadPath(FIXTURE)).snapshot, OPTIONS);
    expect(Object.fromEntries(report.configMap!.keys.map((f) => [f.key, f.verdict]))).toEqual({
      'enable-brotli': 'unsupported', 'hsts-max-age': 'invalid', 'proxy-body-size': 'supported', 'use-forwarded-headers': 'differs', 'use-http2': 'differs',
    });
    expect(report.summary).toEqual({
      ingresses: 2, needClassChange: 1,
      annotations: { supported: 1, differs: 1, unsupported: 2, invalid: 1 },
      configMapKeys: { supported: 1, differs: 2, unsupported: 1, invalid: 1 },
    });
  });

  it('can never call supported what the registry does not read', async () => {
    const report = migrationReport((await loadPath(FIXTURE)).snapshot, OPTIONS);
    for (const f of report.ingresses.flatMap((i) => i.annotations)) if (f.verdict === 'supported') expect(SUPPORTED_ANNOTATIONS.has(f.key.split('/')[1]!)).toBe(true);
    for (const f of report.configMap!.keys) if (f.verdict === 'supported') expect(IMPLEMENTED_CONFIG_KEYS).toContain(f.key);
  });

  it('prints JSON for tools with --output json', async () => {
    const out = await new Promise<string>((resolve, reject) => execFile(process.execPath, [CLI, 'migrate-check', '--manifests', FIXTURE, '--output', 'json'], (err, stdout) => (err ? reject(err) : resolve(stdout))));
    const report = JSON.parse(out) as MigrationReport;
    expect(report.summary.needClassChange).toBe(1);
    expect(report.configMap!.name).toBe('ingress-nginx/ingress-nginx-controller');
  });
});
