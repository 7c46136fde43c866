import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import type { Controller } from './controller.ts';
import { DEBUG_VIEWS, type DebugViews } from './admin/server.ts';
import { ENGINES, type EngineName } from './dataplane/server.ts';
import { DEFAULT_MAX_MANIFEST_BYTES } from './sources/manifest-files.ts';
import { createLogger } from './log.ts';
import { availableCores } from './workers/cores.ts';
import { VERSION } from './version.ts';
import { ACCESS_LOG_FORMATS } from './observability/access-log.ts';
import { INGRESS_NGINX_SERVER_SETTINGS } from './routing/config-map/index.ts';
import type { Standalone } from './standalone.ts';
import { NOT_IN_PORTICO, RENAMED } from './cli-ingress-nginx-flags.ts';

/** A mistake on the command line: one line naming the flag, exit status 2. */
class UsageError extends Error {}

/** setTimeout's limit, 2^31−1 ms: a longer timer would fire at once. */
const MAX_MS = 2 ** 31 - 1;
const NAMESPACED = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;

function count(value: string, flag: string, max = Number.MAX_SAFE_INTEGER, min = 0): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > max || n < min) throw new UsageError(`${flag}: "${value}" is not a whole number between ${min} and ${max}`);
  return n;
}

/** Seconds as a number (`30`, `1.5`) or a Go duration as ingress-nginx's flags take them (`5s`, `1m30s`, `500ms`), in ms. */
export function duration(value: string, flag: string): number {
  const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(value)) {
    ms = Number(value) * 1000;
  } else if (/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(value)) {
    ms = 0;
    for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * UNIT[m[2]!]!;
  } else {
    throw new UsageError(`${flag}: "${value}" is not a duration (30, 30s, 1m30s, 500ms)`);
  }
  if (ms > MAX_MS) throw new UsageError(`${flag}: "${value}" is longer than ${Math.floor(MAX_MS / 1000)} seconds`);
  return Math.round(ms);
}

function port(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new UsageError(`${flag}: "${value}" is not a port number`);
  return n;
}

/** Go's flag booleans: `--flag`, `--flag=true`, `--flag=false`. */
function goBool(value: string | boolean, flag: string): boolean {
  if (value === true || value === 'true' || value === '1') return true;
  if (value === false || value === 'false' || value === '0') return false;
  throw new UsageError(`${flag}: "${value}" is not true or false`);
}

function namespaced(value: string | undefined, flag: string): string | undefined {
  if (value !== undefined && !NAMESPACED.test(value)) throw new UsageError(`${flag}: "${value}" is not namespace/name`);
  return value;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag}: "${value}" is not one of ${allowed.join(', ')}`);
  return value as T;
}

/** What both commands take, as commander reads them (strings; checked by runtimeOptions). */
interface CommonValues {
  workers: string;
  listenAddress: string; httpPort?: string; httpsPort?: string; defaultSslCertificate?: string; defaultBackendService?: string;
  configmap?: string; hsts: string | boolean; metrics: string | boolean; accessLog: string; logQuery: string | boolean; shutdownDelay: string; shutdownGrace: string;
  maxHeaderSize: string; clientHeaderTimeout: string; keepaliveTimeout: string; maxConnections: string; adminPort: string;
  adminAddress: string; debugViews?: string; ingressClass: string; controllerName: string; engine: string; watchIngressWithoutClass: string | boolean;
  extraCaCerts?: string;
}

function addCommonOptions(command: Command, defaults: { http: number; https: number; debugViews: DebugViews }): Command {
  return command
    .option('--listen-address <addr>', 'address of the HTTP and HTTPS listeners', '0.0.0.0')
    .option('--http-port <n>', `the HTTP listener (default ${defaults.http})`)
    .option('--https-port <n|off>', `the HTTPS listener (default ${defaults.https})`)
    .option('--default-ssl-certificate <ns/name>', 'TLS Secret for clients no Ingress certificate matches (default: a self-signed one made at start)')
    .option('--default-backend-service <ns/name>', 'Service (first port) answering requests no rule matches, and custom-http-errors')
    .option('--configmap <ns/name>', 'the controller ConfigMap: ingress-nginx\'s keys over the defaults (serve: from the manifests)')
    .option('--hsts [bool]', 'Strict-Transport-Security on HTTPS responses', 'true')
    .option('--metrics [bool]', 'Prometheus metrics on the admin port\'s /metrics (alias: --enable-metrics)', 'true')
    .option('--access-log <format>', 'one line per request on stdout: json, nginx (ingress-nginx\'s upstreaminfo), text or off', 'json')
    .option('--log-query [bool]', 'log query strings too (they often carry tokens)', 'false')
    .option('--shutdown-delay <duration>', 'on SIGTERM, keep serving this long with /readyz failing (alias: --shutdown-grace-period)', '5s')
    .option('--shutdown-grace <duration>', 'then let requests in flight finish for up to this long', '30s')
    .option('--max-header-size <bytes>', 'request line and headers; larger: 431', '16384')
    .option('--client-header-timeout <duration>', 'time to receive the request head; slower: 408', '60s')
    .option('--keepalive-timeout <duration>', 'idle client keep-alive connections close after', '75s')
    .option('--max-connections <n>', 'open client connections per listener of each worker (ingress-nginx: max-worker-connections)', '16384')
    .option('--admin-port <n>', '/healthz /readyz /metrics, the dashboard and /debug/* (alias: --healthz-port)', '10254')
    .option('--admin-address <addr>', 'address of the admin server (probes and Prometheus reach it there)', '0.0.0.0')
    .option('--debug-views <who>', `who may see the dashboard and /debug/*: on, off or localhost (default ${defaults.debugViews})`)
    .option('--ingress-class <name>', 'IngressClass served', 'portico')
    .option('--controller-name <name>', 'IngressClass spec.controller served (alias: --controller-class)', 'portico.dev/ingress-controller')
    .option('--watch-ingress-without-class [bool]', 'also serve Ingresses that name no class', 'false')
    .option('--engine <name>', `forwarding engine: ${ENGINES.join(' or ')}`, 'undici')
    .option('--workers <n|auto>', 'data-plane threads, each with its own listeners on the same ports; auto: one per core the container may use', 'auto')
    .option('--extra-ca-certs <path>', 'PEM file of CA certificates to trust besides the system\'s where Portico verifies a server (ACME directories, the API server); the image ignores NODE_EXTRA_CA_CERTS');
}

function runtimeOptions(v: CommonValues, defaults: { http: number; https: number; debugViews: DebugViews }) {
  const httpsPort = v.httpsPort ?? String(defaults.https);
  return {
    listenAddress: v.listenAddress,
    httpPort: port(v.httpPort ?? String(defaults.http), '--http-port'),
    httpsPort: httpsPort === 'off' ? undefined : port(httpsPort, '--https-port'),
    metrics: goBool(v.metrics, '--metrics'),
    accessLog: oneOf(v.accessLog, ACCESS_LOG_FORMATS, '--access-log'),
    logQuery: goBool(v.logQuery, '--log-query'),
    // The flags change ingress-nginx's defaults; the controller ConfigMap goes over them.
    serverDefaults: {
      ...INGRESS_NGINX_SERVER_SETTINGS,
      hstsHeader: goBool(v.hsts, '--hsts') ? INGRESS_NGINX_SERVER_SETTINGS.hstsHeader : undefined,
      listener: {
        ...INGRESS_NGINX_SERVER_SETTINGS.listener,
        maxHeaderSize: count(v.maxHeaderSize, '--max-header-size', 2 ** 30),
        headersTimeoutMs: duration(v.clientHeaderTimeout, '--client-header-timeout'),
        keepAliveTimeoutMs: duration(v.keepaliveTimeout, '--keepalive-timeout'),
        maxConnections: count(v.maxConnections, '--max-connections', 2 ** 31 - 1),
      },
    },
    configMap: namespaced(v.configmap, '--configmap'),
    defaultCertificate: namespaced(v.defaultSslCertificate, '--default-ssl-certificate'),
    defaultBackendService: namespaced(v.defaultBackendService, '--default-backend-service'),
    adminPort: port(v.adminPort, '--admin-port'),
    adminAddress: v.adminAddress,
    debugViews: oneOf(v.debugViews ?? defaults.debugViews, DEBUG_VIEWS, '--debug-views'),
    ingressClass: v.ingressClass,
    controllerName: v.controllerName,
    watchWithoutClass: goBool(v.watchIngressWithoutClass, '--watch-ingress-without-class'),
    engine: oneOf(v.engine, ENGINES, '--engine') as EngineName,
    workers: v.workers === 'auto' ? availableCores() : count(v.workers, '--workers (or auto)', 256, 1),
    extraCaCertificates: v.extraCaCerts === undefined ? [] : caCertificates(v.extraCaCerts),
  };
}

/** A comma-separated list of IP addresses, each checked. */
function addressList(text: string | undefined, flag: string): string[] | undefined {
  if (text === undefined) return undefined;
  const list = text.split(',').map((a) => a.trim()).filter(Boolean);
  const bad = list.find((a) => isIP(a) === 0);
  if (bad !== undefined || list.length === 0) throw new UsageError(`${flag}: "${bad ?? text}" is not an IP address`);
  return list;
}

/** `--extra-ca-certs`: every certificate of a PEM file, each checked to parse. */
function caCertificates(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--extra-ca-certs: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const pems = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw new UsageError(`--extra-ca-certs: ${path} holds no PEM certificate`);
  pems.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch {
      throw new UsageError(`--extra-ca-certs: certificate ${i + 1} of ${path} does not parse`);
    }
  });
  return pems;
}

/** `--manifests`: a directory, or one file of it. */
function manifestsOf(path: string): { dir: string; file: string | undefined } {
  const full = resolve(path);
  let stat;
  try {
    stat = statSync(full);
  } catch {
    throw new UsageError(`--manifests: ${path} does not exist`);
  }
  if (stat.isDirectory()) return { dir: full, file: undefined };
  if (stat.isFile()) return { dir: dirname(full), file: basename(full) };
  throw new UsageError(`--manifests: ${path} is neither a directory nor a file`);
}

/**
 * The kubeconfig the controller will use. client-node falls back to http://localhost:8080 when
 * it finds none, and would retry that forever: here that is a usage error instead.
 */
function kubeconfigOf(path: string | undefined): string | undefined {
  if (path !== undefined) {
    try {
      readFileSync(path);
    } catch (err) {
      throw new UsageError(`--kubeconfig: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    return path;
  }
  const inPod = process.env['KUBERNETES_SERVICE_HOST'] !== undefined && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
  const env = process.env['KUBECONFIG'];
  if (!inPod && !env && !existsSync(join(homedir(), '.kube', 'config'))) {
    throw new UsageError('--kubeconfig: no kubeconfig found (none given, KUBECONFIG unset, no ~/.kube/config) and not running in a pod');
  }
  return undefined;
}

/** `--validating-webhook` with its certificate and key, all three or none. */
function webhookOf(listen: string | undefined, certFile: string | undefined, keyFile: string | undefined) {
  if (listen === undefined) {
    if (certFile !== undefined || keyFile !== undefined) throw new UsageError('--validating-webhook-certificate: given without --validating-webhook');
    return undefined;
  }
  if (!/^[^\s]*:\d{1,5}$/.test(listen)) throw new UsageError(`--validating-webhook: "${listen}" is not address:port or :port`);
  port(listen.slice(listen.lastIndexOf(':') + 1), '--validating-webhook');
  for (const [flag, path] of [['--validating-webhook-certificate', certFile], ['--validating-webhook-key', keyFile]] as const) {
    if (path === undefined) throw new UsageError(`${flag}: required with --validating-webhook`);
    try {
      readFileSync(path);
    } catch (err) {
      throw new UsageError(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  return { listen, certFile: certFile!, keyFile: keyFile! };
}

/**
 * ingress-nginx users copy their flags: a renamed one is taken under its old name, one that
 * does not apply is refused by name with what to do instead (never a silent no-op).
 */
function translateIngressNginxFlags(argv: readonly string[]): string[] {
  return argv.map((arg) => {
    const m = /^--([a-z0-9-]+)(=.*)?$/.exec(arg);
    if (!m) return arg;
    const [, name = '', rest = ''] = m;
    const hint = NOT_IN_PORTICO[name];
    if (hint !== undefined) throw new UsageError(`--${name} is an ingress-nginx flag Portico does not have: ${hint}`);
    const renamed = RENAMED[name];
    return renamed === undefined ? arg : `--${renamed}${rest}`;
  });
}

const SERVE_DEFAULTS = { http: 8080, https: 8443, debugViews: 'on' as DebugViews };
const CONTROLLER_DEFAULTS = { http: 80, https: 443, debugViews: 'localhost' as DebugViews };

interface Started {
  app: Standalone | Controller;
  delayMs: number;
  graceMs: number;
  ports: { http: number; https: number | undefined; admin: number; webhook?: number | undefined };
}

function program(onStart: (started: Started) => void): Command {
  const root = new Command('portico')
    .description('An Ingress controller that reads ingress-nginx\'s Ingresses, annotations and ConfigMap')
    .version(VERSION, '--version', 'print the version')
    .showSuggestionAfterError()
    // One line, like every other usage error; subcommands inherit this.
    .configureOutput({ outputError: (text, write) => write(`portico: ${text.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()}\n`) })
    .exitOverride();
  root.command('version').description('print the version').action(() => {
    process.stdout.write(`${VERSION}\n`);
  });

  addCommonOptions(root.command('serve').description('serve the Ingresses of a directory (or one file) of manifests, watched for changes'), SERVE_DEFAULTS)
    .requiredOption('--manifests <path>', 'directory of *.yaml, *.yml, *.json manifests, or one manifest file')
    .option('--max-manifest-bytes <bytes>', 'larger manifest files are refused with a diagnostic', String(DEFAULT_MAX_MANIFEST_BYTES))
    .action(async (v: CommonValues & { manifests: string; maxManifestBytes: string }) => {
      const options = runtimeOptions(v, SERVE_DEFAULTS);
      const times = { delayMs: duration(v.shutdownDelay, '--shutdown-delay'), graceMs: duration(v.shutdownGrace, '--shutdown-grace') };
      const { dir, file } = manifestsOf(v.manifests);
      const maxManifestBytes = count(v.maxManifestBytes, '--max-manifest-bytes', 2 ** 30);
      // Loaded once the flags are known good: a usage error answers at once.
      const { Standalone } = await import('./standalone.ts');
      const app = new Standalone({ ...options, manifests: dir, manifestFile: file, maxManifestBytes }, createLogger());
      onStart({ app, ...times, ports: { http: options.httpPort, https: options.httpsPort, admin: options.adminPort } });
    });

  addCommonOptions(root.command('controller').description('serve the Ingresses of a Kubernetes cluster (in a pod: in-cluster config)'), CONTROLLER_DEFAULTS)
    .option('--kubeconfig <path>', 'kubeconfig to use (default: in-cluster config, else KUBECONFIG or ~/.kube/config)')
    .option('--watch-namespace <ns>', 'only watch this namespace (default: all)')
    .option('--publish-service <ns/name>', 'write the addresses of this Service\'s load balancer to Ingress status')
    .option('--publish-status-address <addrs>', 'write these addresses (comma-separated) to Ingress status (alias: --publish-address); default: the InternalIP of the node in NODE_NAME')
    .option('--update-status [bool]', 'write Ingress status at all', 'true')
    .option('--gateway-addresses <addrs>', 'node addresses (comma-separated) to give Gateway API Gateways, one each, oldest first: requests are told apart by the address they came to (default: every Gateway on every address)')
    .option('--acme [bool]', 'watch ACMEIssuers and order the certificates Ingresses ask for (needs the CRD and Secret write access)', 'true')
    .option('--election-namespace <ns>', 'namespace of the leader Lease (default: POD_NAMESPACE, else default)')
    .option('--election-id <name>', 'name of the leader Lease', 'portico-leader')
    .option('--validating-webhook <addr:port>', 'serve the validating admission webhook here (e.g. :8443)')
    .option('--validating-webhook-certificate <path>', 'its certificate (PEM), e.g. from a mounted Secret')
    .option('--validating-webhook-key <path>', 'its private key (PEM)')
    .action(async (v: CommonValues & { kubeconfig?: string; watchNamespace?: string; publishService?: string; publishStatusAddress?: string; updateStatus: string | boolean; acme: string | boolean; gatewayAddresses?: string; electionNamespace?: string; electionId: string; validatingWebhook?: string; validatingWebhookCertificate?: string; validatingWebhookKey?: string }) => {
      const options = runtimeOptions(v, CONTROLLER_DEFAULTS);
      const watched = v.watchNamespace;
      for (const [flag, value] of [['--configmap', options.configMap], ['--publish-service', namespaced(v.publishService, '--publish-service')]] as const) {
        if (watched !== undefined && value !== undefined && !value.startsWith(`${watched}/`)) throw new UsageError(`${flag}: ${value} is outside --watch-namespace ${watched}, so Portico could not see it`);
      }
      const addresses = (v.publishStatusAddress ?? '').split(',').map((a) => a.trim()).filter(Boolean);
      const kubeconfig = kubeconfigOf(v.kubeconfig);
      const updateStatus = goBool(v.updateStatus, '--update-status');
      const times = { delayMs: duration(v.shutdownDelay, '--shutdown-delay'), graceMs: duration(v.shutdownGrace, '--shutdown-grace') };
      const webhook = webhookOf(v.validatingWebhook, v.validatingWebhookCertificate, v.validatingWebhookKey);
      const { Controller } = await import('./controller.ts');
      const app = new Controller({
        ...options,
        kubeconfig,
        watchNamespace: watched,
        publishStatusAddresses: addresses,
        publishService: v.publishService,
        updateStatus,
        acme: goBool(v.acme, '--acme'),
        gatewayAddresses: addressList(v.gatewayAddresses, '--gateway-addresses'),
        electionNamespace: v.electionNamespace ?? process.env['POD_NAMESPACE'] ?? 'default',
        electionId: v.electionId,
        webhook,
      }, createLogger());
      onStart({ app, ...times, ports: { http: options.httpPort, https: options.httpsPort, admin: options.adminPort, webhook: webhook && Number(webhook.listen.slice(webhook.listen.lastIndexOf(':') + 1)) } });
    });
  root.command('migrate-check')
    .description('what moving from ingress-nginx changes: every annotation and ConfigMap key as supported, differs, unsupported or invalid')
    .option('--kubeconfig <path>', 'read the cluster (default: KUBECONFIG or ~/.kube/config) unless --manifests is given')
    .option('--manifests <path>', 'read a directory of manifests, or one file such as `kubectl get ingress -A -o yaml` output')
    .option('--configmap <ns/name>', 'ingress-nginx\'s ConfigMap', 'ingress-nginx/ingress-nginx-controller')
    .option('--ingress-class <name>', 'the IngressClass Portico will serve', 'portico')
    .option('--controller-name <name>', 'its spec.controller', 'portico.dev/ingress-controller')
    .option('--output <format>', 'text or json', 'text')
    .action(async (v: { kubeconfig?: string; manifests?: string; configmap: string; ingressClass: string; controllerName: string; output: string }) => {
      const output = oneOf(v.output, ['text', 'json'] as const, '--output');
      const configMap = namespaced(v.configmap, '--configmap')!;
      if (v.manifests !== undefined && v.kubeconfig !== undefined) throw new UsageError('--manifests: give either --manifests or --kubeconfig, not both');
      if (v.manifests !== undefined) manifestsOf(v.manifests);
      const kubeconfig = v.manifests === undefined ? kubeconfigOf(v.kubeconfig) : undefined;
      const { loadCluster, loadPath } = await import('./migrate/load.ts');
      const { formatReport, migrationReport } = await import('./migrate/report.ts');
      const { snapshot, problems } = v.manifests !== undefined ? await loadPath(v.manifests) : await loadCluster(kubeconfig, configMap);
      for (const p of problems) process.stderr.write(`portico: ${p.object.name}: ${p.message}\n`);
      const selection = { ingressClass: v.ingressClass, controllerName: v.controllerName };
      const report = migrationReport(snapshot, { ...selection, configMap });
      process.stdout.write(output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, selection));
    });
  return root;
}

/** Which flag set the port a listener could not take. */
function flagOfPort(ports: Started['ports'], taken: number | undefined): string {
  if (taken === ports.https) return '--https-port';
  if (taken === ports.admin) return '--admin-port';
  if (taken === ports.webhook) return '--validating-webhook';
  return '--http-port';
}

export async function main(argv: string[]): Promise<void> {
  let started: Started | undefined;
  const root = program((s) => (started = s));
  if (argv.length === 0) {
    process.stderr.write(root.helpInformation());
    throw new CommanderError(2, 'portico.noCommand', '');
  }
  await root.parseAsync(translateIngressNginxFlags(argv), { from: 'user' });
  if (!started) return; // help, version
  const { app, delayMs, graceMs, ports } = started;
  try {
    await app.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      const what = e.code === 'EADDRINUSE' ? 'is already in use' : e.code === 'EACCES' ? 'may not be bound by this user' : 'is not an address of this machine';
      throw new UsageError(`${flagOfPort(ports, e.port)}: ${e.address ?? ''}:${e.port ?? ''} ${what}`);
    }
    throw err;
  }
  const log = createLogger();
  const shutdown = (): void => {
    void app.shutdown(delayMs, graceMs).then(() => {
      log.info('stopped');
      process.exit(0);
    });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

/** Runs the CLI: exit 2 with one line for a usage error, 1 for anything else, 0 for help and the version. */
export function run(argv: string[]): void {
  main(argv).catch((err: unknown) => {
    if (err instanceof CommanderError) {
      // Commander printed its message already (help, version, or `error: …` with a suggestion).
      process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 2);
    }
    if (err instanceof UsageError) {
      process.stderr.write(`portico: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`portico: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}

if (import.meta.main) run(process.argv.slice(2));

