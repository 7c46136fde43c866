import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { ENGINES, type EngineName } from './dataplane/server.ts';
import { createLogger } from './log.ts';
import { Standalone } from './standalone.ts';

const USAGE = `Usage: portico <command> [flags]

Commands:
  serve     Serve the Ingresses of a directory of manifests (standalone mode)

Flags for serve:
  --manifests DIR          directory of *.yaml, *.yml, *.json manifests (required; watched for changes)
  --listen-address ADDR    address to listen on (default 0.0.0.0)
  --http-port N            HTTP listener (default 8080)
  --admin-port N           admin server: /healthz /readyz /debug/routes /debug/diagnostics (default 10254)
  --ingress-class NAME     IngressClass served (default portico)
  --controller-name NAME   IngressClass spec.controller served (default portico.dev/ingress-controller)
  --engine NAME            forwarding engine: ${ENGINES.join(' or ')} (default undici)
`;

class UsageError extends Error {}

function port(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag}: "${value}" is not a port number`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command !== 'serve') {
    if (command && command !== '--help' && command !== '-h') process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
    else process.stdout.write(USAGE);
    process.exitCode = command && command !== '--help' && command !== '-h' ? 2 : 0;
    return;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      'manifests': { type: 'string' },
      'listen-address': { type: 'string', default: '0.0.0.0' },
      'http-port': { type: 'string', default: '8080' },
      'admin-port': { type: 'string', default: '10254' },
      'ingress-class': { type: 'string', default: 'portico' },
      'controller-name': { type: 'string', default: 'portico.dev/ingress-controller' },
      'engine': { type: 'string', default: 'undici' },
    },
  });
  if (!values.manifests) throw new UsageError('--manifests is required');
  if (!ENGINES.includes(values.engine as EngineName)) throw new UsageError(`--engine: "${values.engine}" is not one of ${ENGINES.join(', ')}`);
  const log = createLogger();
  const app = new Standalone({
    manifests: resolve(values.manifests),
    listenAddress: values['listen-address'],
    httpPort: port(values['http-port'], '--http-port'),
    adminPort: port(values['admin-port'], '--admin-port'),
    ingressClass: values['ingress-class'],
    controllerName: values['controller-name'],
    engine: values.engine as EngineName,
  }, log);
  await app.start();
  const shutdown = (): void => {
    log.info('shutting down');
    void app.stop().then(() => process.exit(0));
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
