import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { Controller } from './controller.ts';
import { DEBUG_VIEWS, type DebugViews } from './admin/server.ts';
import { ENGINES, type EngineName } from './dataplane/server.ts';
import { DEFAULT_MAX_MANIFEST_BYTES } from './sources/manifest-files.ts';
import { createLogger } from './log.ts';
import { INGRESS_NGINX_SERVER_SETTINGS } from './routing/config-map/index.ts';
import { Standalone } from './standalone.ts';

const USAGE = `Usage: portico <command> [flags]

Commands:
  controller   Serve the Ingresses of a Kubernetes cluster (in a pod: in-cluster config)
  serve        Serve the Ingresses of a directory of manifests (standalone mode)

Flags for both:
  --listen-address ADDR      address to listen on (default 0.0.0.0)
  --http-port N              HTTP listener (default 80 for controller, 8080 for serve)
  --https-port N|off         HTTPS listener (default 443 for controller, 8443 for serve)
  --default-ssl-certificate NS/NAME
                             TLS Secret for clients no Ingress certificate matches
                             (default: a self-signed certificate generated at start)
  --default-backend-service NS/NAME
                             Service (first port) answering requests no rule matches, and the
                             custom-http-errors of Ingresses without their own default-backend
  --configmap NS/NAME        the controller ConfigMap: ingress-nginx's keys (hsts, proxy-body-size,
                             use-forwarded-headers, …) over the defaults; serve reads it from the
                             manifests, controller watches it
  --hsts true|false          Strict-Transport-Security on HTTPS responses (default true)
  --metrics true|false       Prometheus metrics on the admin port's /metrics (default true)
  --access-log off|json|text one line per request on stdout (default json)
  --shutdown-delay SECONDS   on SIGTERM, keep serving this long with /readyz failing (default 5)
  --shutdown-grace SECONDS   then let requests in flight finish for up to this long (default 30)
  --max-header-size BYTES    request line and headers; larger: 431 (default 16384)
  --client-header-timeout S  time to receive the request head; slower: 408 (default 60)
  --keepalive-timeout S      idle client keep-alive connections close after (default 75)
  --max-connections N        open client connections per listener (default 16384)
  --admin-port N             /healthz /readyz /metrics, the dashboard and /debug/* (default 10254)
  --admin-address ADDR       address of the admin server (default 0.0.0.0, so probes and Prometheus reach it)
  --debug-views on|off|localhost
                             who may see the dashboard and /debug/* (pod addresses, Secret names):
                             everyone, nobody, or local clients (kubectl port-forward); probes and
                             /metrics are unaffected (default on for serve, localhost for controller)
  --ingress-class NAME       IngressClass served (default portico)
  --controller-name NAME     IngressClass spec.controller served (default portico.dev/ingress-controller)
  --engine NAME              forwarding engine: ${ENGINES.join(' or ')} (default undici)

Flags for controller:
  --kubeconfig PATH          kubeconfig to use (default: in-cluster config, else KUBECONFIG or ~/.kube/config)
  --watch-namespace NS       only watch this namespace (default: all)
  --publish-address ADDR     address written to Ingress status (default: InternalIP of the node in NODE_NAME)
  --election-namespace NS    namespace of the leader Lease (default: POD_NAMESPACE, else default)
  --election-id NAME         name of the leader Lease (default portico-leader)

Flags for serve:
  --manifests DIR            directory of *.yaml, *.yml, *.json manifests (required; watched for changes)
  --max-manifest-bytes BYTES larger manifest files are refused with a diagnostic (default 16777216)
`;

class UsageError extends Error {}

const COMMON = {
  'listen-address': { type: 'string', default: '0.0.0.0' },
  'http-port': { type: 'string' },
  'https-port': { type: 'string' },
  'default-ssl-certificate': { type: 'string' },
  'default-backend-service': { type: 'string' },
  'configmap': { type: 'string' },
  'hsts': { type: 'string', default: 'true' },
  'metrics': { type: 'string', default: 'true' },
  'access-log': { type: 'string', default: 'json' },
  'shutdown-delay': { type: 'string', default: '5' },
  'shutdown-grace': { type: 'string', default: '30' },
  'max-header-size': { type: 'string', default: '16384' },
  'client-header-timeout': { type: 'string', default: '60' },
  'keepalive-timeout': { type: 'string', default: '75' },
  'max-connections': { type: 'string', default: '16384' },
  'admin-port': { type: 'string', default: '10254' },
  'admin-address': { type: 'string', default: '0.0.0.0' },
  'debug-views': { type: 'string' },
  'ingress-class': { type: 'string', default: 'portico' },
  'controller-name': { type: 'string', default: 'portico.dev/ingress-controller' },
  'engine': { type: 'string', default: 'undici' },
} satisfies ParseArgsConfig['options'];

/** setTimeout's limit, 2^31−1 ms: a longer timer would fire at once. */
const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

function count(value: string | undefined, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (value === undefined || !/^\d+$/.test(value) || n > max) throw new UsageError(`${flag}: "${value}" is not a whole number between 0 and ${max}`);
  return n;
}

function seconds(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n) || n < 0 || n > MAX_SECONDS) throw new UsageError(`${flag}: "${value}" is not a number of seconds between 0 and ${MAX_SECONDS}`);
  return n * 1000;
}

function shutdownTimesOf(values: { 'shutdown-delay'?: string; 'shutdown-grace'?: string }): { delayMs: number; graceMs: number } {
  return {
    delayMs: seconds(values['shutdown-delay'], '--shutdown-delay'),
    graceMs: seconds(values['shutdown-grace'], '--shutdown-grace'),
  };
}

function port(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag}: "${value}" is not a port number`);
  return n;
}

function runtimeOptions(values: { [K in keyof typeof COMMON]?: string }, defaultHttpPort: number, defaultHttpsPort: number, defaultDebugViews: DebugViews) {
  if (!ENGINES.includes(values.engine as EngineName)) throw new UsageError(`--engine: "${values.engine}" is not one of ${ENGINES.join(', ')}`);
  for (const flag of ['hsts', 'metrics'] as const) {
    if (values[flag] !== 'true' && values[flag] !== 'false') throw new UsageError(`--${flag}: "${values[flag]}" is not true or false`);
  }
  if (!['off', 'json', 'text'].includes(values['access-log']!)) throw new UsageError(`--access-log: "${values['access-log']}" is not off, json or text`);
  const certificate = values['default-ssl-certificate'];
  if (certificate !== undefined && !/^[a-z0-9-]+\/[a-z0-9.-]+$/.test(certificate)) throw new UsageError(`--default-ssl-certificate: "${certificate}" is not namespace/name`);
  const defaultBackend = values['default-backend-service'];
  if (defaultBackend !== undefined && !/^[a-z0-9-]+\/[a-z0-9-]+$/.test(defaultBackend)) throw new UsageError(`--default-backend-service: "${defaultBackend}" is not namespace/name`);
  const configMap = values.configmap;
  if (configMap !== undefined && !/^[a-z0-9-]+\/[a-z0-9.-]+$/.test(configMap)) throw new UsageError(`--configmap: "${configMap}" is not namespace/name`);
  const httpsPort = values['https-port'] ?? String(defaultHttpsPort);
  const debugViews = values['debug-views'] ?? defaultDebugViews;
  if (!DEBUG_VIEWS.includes(debugViews as DebugViews)) throw new UsageError(`--debug-views: "${debugViews}" is not one of ${DEBUG_VIEWS.join(', ')}`);
  return {
    listenAddress: values['listen-address']!,
    httpPort: port(values['http-port'] ?? String(defaultHttpPort), '--http-port'),
    httpsPort: httpsPort === 'off' ? undefined : port(httpsPort, '--https-port'),
    metrics: values.metrics === 'true',
    accessLog: values['access-log'] as 'off' | 'json' | 'text',
    // The flags change ingress-nginx's defaults; the controller ConfigMap goes over them.
    serverDefaults: {
      ...INGRESS_NGINX_SERVER_SETTINGS,
      hstsHeader: values.hsts === 'true' ? INGRESS_NGINX_SERVER_SETTINGS.hstsHeader : undefined,
      listener: {
        ...INGRESS_NGINX_SERVER_SETTINGS.listener,
        maxHeaderSize: count(values['max-header-size'], '--max-header-size', 2 ** 30),
        headersTimeoutMs: seconds(values['client-header-timeout'], '--client-header-timeout'),
        keepAliveTimeoutMs: seconds(values['keepalive-timeout'], '--keepalive-timeout'),
        maxConnections: count(values['max-connections'], '--max-connections', 2 ** 31 - 1),
      },
    },
    configMap,
    defaultCertificate: certificate,
    defaultBackendService: defaultBackend,
    adminPort: port(values['admin-port']!, '--admin-port'),
    adminAddress: values['admin-address']!,
    debugViews: debugViews as DebugViews,
    ingressClass: values['ingress-class']!,
    controllerName: values['controller-name']!,
    engine: values.engine as EngineName,
  };
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const log = createLogger();
  let app: Standalone | Controller;
  let shutdownTimes = { delayMs: 0, graceMs: 0 };
  if (command === 'serve') {
    const { values } = parseArgs({ args: rest, options: { ...COMMON, 'manifests': { type: 'string' }, 'max-manifest-bytes': { type: 'string', default: String(DEFAULT_MAX_MANIFEST_BYTES) } } });
    if (!values.manifests) throw new UsageError('--manifests is required');
    shutdownTimes = shutdownTimesOf(values);
    app = new Standalone({
      ...runtimeOptions(values, 8080, 8443, 'on'),
      manifests: resolve(values.manifests),
      maxManifestBytes: count(values['max-manifest-bytes'], '--max-manifest-bytes', 2 ** 30),
    }, log);
  } else if (command === 'controller') {
    const { values } = parseArgs({ args: rest, options: {
      ...COMMON,
      'kubeconfig': { type: 'string' },
      'watch-namespace': { type: 'string' },
      'publish-address': { type: 'string' },
      'election-namespace': { type: 'string', default: process.env['POD_NAMESPACE'] ?? 'default' },
      'election-id': { type: 'string', default: 'portico-leader' },
    } });
    shutdownTimes = shutdownTimesOf(values);
    const watched = values['watch-namespace'];
    if (watched !== undefined && values.configmap !== undefined && !values.configmap.startsWith(`${watched}/`)) {
      throw new UsageError(`--configmap: ${values.configmap} is outside --watch-namespace ${watched}, so Portico could not see it`);
    }
    app = new Controller({
      ...runtimeOptions(values, 80, 443, 'localhost'),
      kubeconfig: values.kubeconfig,
      watchNamespace: values['watch-namespace'],
      publishAddress: values['publish-address'],
      electionNamespace: values['election-namespace'],
      electionId: values['election-id'],
    }, log);
  } else {
    if (command && command !== '--help' && command !== '-h') throw new UsageError(`unknown command "${command}"`);
    process.stdout.write(USAGE);
    return;
  }
  const { delayMs, graceMs } = shutdownTimes;
  await app.start();
  const shutdown = (): void => {
    void app.shutdown(delayMs, graceMs).then(() => {
      log.info('stopped');
      process.exit(0);
    });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

/** Runs the CLI and turns errors into exit codes: 2 for usage errors, 1 for anything else. */
export function run(argv: string[]): void {
  main(argv).catch((err: unknown) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`portico: ${(err as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    process.stderr.write(`portico: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}

if (import.meta.main) run(process.argv.slice(2));
