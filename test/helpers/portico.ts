import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Standalone } from '../../src/standalone.ts';
import type { EngineName } from '../../src/dataplane/server.ts';
import { INGRESS_NGINX_SERVER_SETTINGS } from '../../src/routing/config-map/index.ts';
import { DEFAULT_MAX_MANIFEST_BYTES } from '../../src/sources/manifest-files.ts';
import { INGRESS_CLASS } from './manifests.ts';

export interface RunningPortico {
  app: Standalone;
  httpPort: number;
  httpsPort: number;
  adminPort: number;
  dir: string;
  /** Writes a manifest file atomically (like kubectl apply replaces an object) and waits for the table to change. */
  apply(file: string, yaml: string): Promise<void>;
  stop(): Promise<void>;
}

/** Portico in standalone mode on ephemeral ports, over a fresh manifest directory. */
export async function startPortico(manifests: Record<string, string>, engine: EngineName = 'undici', options: { defaultCertificate?: string; defaultBackendService?: string; maxManifestBytes?: number; configMap?: string; workers?: number } = {}): Promise<RunningPortico> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-test-'));
  await writeFile(join(dir, '00-class.yaml'), INGRESS_CLASS);
  for (const [file, yaml] of Object.entries(manifests)) await writeFile(join(dir, file), yaml);
  const app = new Standalone({
    manifests: dir, maxManifestBytes: options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES, listenAddress: '127.0.0.1', httpPort: 0, httpsPort: 0, adminPort: 0, adminAddress: '127.0.0.1', debugViews: 'on', engine,
    ingressClass: 'portico', controllerName: 'portico.dev/ingress-controller', serverDefaults: INGRESS_NGINX_SERVER_SETTINGS, configMap: options.configMap, defaultCertificate: options.defaultCertificate, defaultBackendService: options.defaultBackendService, metrics: true, accessLog: 'off', logQuery: false, workers: options.workers ?? 1, extraCaCertificates: [],
  }, pino({ level: 'silent' }));
  const { httpPort, httpsPort, adminPort } = await app.start();
  // Files are written here and renamed into the directory, so the directory sees one change per
  // apply: a temporary file inside it could set off a reload of the old version on a busy machine,
  // a new generation that apply() would take for its own.
  const staging = await mkdtemp(join(tmpdir(), 'portico-staging-'));
  return {
    app, httpPort, httpsPort: httpsPort!, adminPort, dir,
    async apply(file, yaml) {
      const before = app.current?.generation ?? 0;
      await writeFile(join(staging, file), yaml);
      await rename(join(staging, file), join(dir, file));
      await waitFor(() => (app.current?.generation ?? 0) > before);
    },
    async stop() {
      await app.stop();
      await rm(dir, { recursive: true, force: true });
      await rm(staging, { recursive: true, force: true });
    },
  };
}

/** Polls every 25 ms until `condition` holds, for at most `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what = 'condition', timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  if (await condition()) return;
  throw new Error(`timed out waiting for ${what}`);
}
