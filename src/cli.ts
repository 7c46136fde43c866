import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { Controller } from './controller.ts';
import { ENGINES, type EngineName } from './dataplane/server.ts';
import { createLogger } from './log.ts';
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
  --hsts true|false          Strict-Transport-Security on HTTPS responses (default true)
  --metrics true|false       Prometheus metrics on the admin port's /metrics (default true)
  --access-log off|json|text one line per request on stdout (default json)
  --shutdown-delay SECONDS   on SIGTERM, keep serving this long with /readyz failing (default 5)
  --shutdown-grace SECONDS   then let requests in flight finish for up to this long (default 30)
  --max-header-size BYTES    request line and headers; larger: 431 (default 16384)
  --client-header-timeout S  time to receive the request head; slower: 408 (default 60)
  --keepalive-timeout S      idle client keep-alive connections close after (default 75)
  --max-connections N        open client connections per listener (default 16384)
  --admin-port N             /healthz /readyz /debug/routes /debug/diagnostics (default 10254)
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
`;

class UsageError extends Error {}

const COMMON = {
  'listen-address': { type: 'string', default: '0.0.0.0' },
  'http-port': { type: 'string' },
  'https-port': { type: 'string' },
  'default-ssl-certificate': { type: 'string' },
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
  'ingress-class': { type: 'string', default: 'portico' },
  'controller-name': { type: 'string', default: 'portico.dev/ingress-controller' },
  'engine': { type: 'string', default: 'undici' },
} satisfies ParseArgsConfig['options'];

function number(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag}: "${value}" is not a non-negative number`);
  return n;
}

function shutdownTimesOf(values: { 'shutdown-delay'?: string; 'shutdown-grace'?: string }): { delayMs: number; graceMs: number } {
  return {
    delayMs: number(values['shutdown-delay'], '--shutdown-delay') * 1000,
    graceMs: number(values['shutdown-grace'], '--shutdown-grace') * 1000,
  };
}

function port(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag}: "${value}" is not a port number`);
  return n;
}

function runtimeOptions(values: { [K in keyof typeof COMMON]?: string }, defaultHttpPort: number, defaultHttpsPort: number) {
  if (!ENGINES.includes(values.engine as EngineName)) throw new UsageError(`--engine: "${values.engine}" is not one of ${ENGINES.join(', ')}`);
  for (const flag of ['hsts', 'metrics'] as const) {
    if (values[flag] !== 'true' && values[flag] !== 'false') throw new UsageError(`--${flag}: "${values[flag]}" is not true or false`);
  }
  if (!['off', 'json', 'text'].includes(values['access-log']!)) throw new UsageError(`--access-log: "${values['access-log']}" is not off, json or text`);
  const certificate = values['default-ssl-certificate'];
  if (certificate !== undefined && !/^[a-z0-9-]+\/[a-z0-9.-]+$/.test(certificate)) throw new UsageError(`--default-ssl-certificate: "${certificate}" is not namespace/name`);
  const httpsPort = values['https-port'] ?? String(defaultHttpsPort);
  return {
    listenAddress: values['listen-address']!,
    httpPort: port(values['http-port'] ?? String(defaultHttpPort), '--http-port'),
    httpsPort: httpsPort === 'off' ? undefined : port(httpsPort, '--https-port'),
    hsts: values.hsts === 'true',
    metrics: values.metrics === 'true',
    accessLog: values['access-log'] as 'off' | 'json' | 'text',
    limits: {
      maxHeaderSize: number(values['max-header-size'], '--max-header-size'),
      headersTimeoutMs: number(values['client-header-timeout'], '--client-header-timeout') * 1000,
      keepAliveTimeoutMs: number(values['keepalive-timeout'], '--keepalive-timeout') * 1000,
      maxConnections: number(values['max-connections'], '--max-connections'),
    },
    defaultCertificate: certificate,
    adminPort: port(values['admin-port']!, '--admin-port'),
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
    const { values } = parseArgs({ args: rest, options: { ...COMMON, manifests: { type: 'string' } } });
    if (!values.manifests) throw new UsageError('--manifests is required');
    shutdownTimes = shutdownTimesOf(values);
    app = new Standalone({ ...runtimeOptions(values, 8080, 8443), manifests: resolve(values.manifests) }, log);
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
    app = new Controller({
      ...runtimeOptions(values, 80, 443),
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
