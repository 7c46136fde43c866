// `npm run conformance`: the official Gateway API conformance suite (sigs.k8s.io/gateway-api/
// conformance v1.6.3, its test binary built unmodified), profile GATEWAY-HTTP, against Portico in
// controller mode on the e2e cluster: a real kube-apiserver, kube-controller-manager and the e2e
// node running the suite's Deployments (echo-basic built from the same module). The suite's own
// report and the exact command go to conformance/. Exits non-zero only when the suite could not
// run; which tests pass is the report's to say.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startEnvironment } from '../e2e/lib/environment.ts';
import { daemon, stopProcess, waitUntil } from '../e2e/lib/exec.ts';
import { freePort } from '../e2e/lib/cluster.ts';
import { ROOT } from '../e2e/lib/environment.ts';
import { VERSION as version } from '../src/version.ts';
import { GATEWAY_CLASS } from '../test/helpers/manifests.ts';

const VERSION = 'v1.6.3';
/** Why a test fails that is understood, for the notes beside the report. */
const KNOWN_FAILURES: Record<string, string> = {
  HTTPRouteMultipleGateways: 'two Gateways with routes for the same hostname and path are told apart only by their addresses: with more Gateways than `--gateway-addresses` names, the later ones share the node\'s address and the older route wins.',
};
const REPORT = join(ROOT, 'conformance', `report-${VERSION}.yaml`);
const LOG = join(ROOT, 'conformance', `suite-${VERSION}.log`);

const env = await startEnvironment(82, {
  workloads: true,
  images: {
    'registry.k8s.io/gateway-api/echo-basic': () => [join(binDir(), 'echo-basic')],
    // No local build of coredns: its pods only have to run (DNS-dependent tests cannot pass).
    'registry.k8s.io/coredns/coredns': () => [process.execPath, join(ROOT, 'e2e/lib/idle-pod.ts')],
  },
});
function binDir(): string {
  return env.bin;
}

let portico: ReturnType<typeof daemon> | undefined;
let exitCode = 0;
try {
  const { kubectl, cluster, network, dir } = env;
  const crds = (await readdir(join(env.bin, 'gateway-api-crds'))).filter((f) => f.endsWith('.yaml') && !f.includes('vap_'));
  await kubectl.kubectl('apply', '--server-side', ...crds.flatMap((f) => ['-f', join(env.bin, 'gateway-api-crds', f)]));
  await kubectl.kubectl('wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s');
  await kubectl.apply(GATEWAY_CLASS);
  // Portico as a hostNetwork pod would run, on ports 80 and 443 of the node, which has eight more
  // addresses on the pod bridge to give Gateways one each (the suite tells Gateways apart by address).
  const gatewayAddresses: string[] = [];
  for (let n = 2; n < 10; n++) gatewayAddresses.push(await network.addNodeAddress(n));
  const admin = await freePort();
  portico = daemon(process.execPath, [join(ROOT, 'src/cli.ts'), 'controller', '--kubeconfig', cluster.porticoKubeconfig,
    '--listen-address', '0.0.0.0', '--http-port', '80', '--https-port', '443', '--admin-address', '127.0.0.1', '--admin-port', String(admin),
    '--gateway-addresses', gatewayAddresses.join(','),
    '--publish-address', network.gateway, '--election-namespace', 'portico-system', '--shutdown-delay', '0', '--access-log', 'off'], join(dir, 'portico.log'));
  await waitUntil('portico /readyz', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.ok === true, 60_000, 200);
  // The suite reads the features to test from the GatewayClass status, once, as it starts.
  await waitUntil('the GatewayClass status with supportedFeatures', async () =>
    (await kubectl.kubectl('get', 'gatewayclass', 'portico', '-o', 'jsonpath={.status.supportedFeatures[*].name}')).includes('HTTPRoute'), 60_000, 200);

  const args = [
    '-test.run', '^TestConformance$', '-test.v', '-test.timeout', '60m',
    '--gateway-class=portico', '--conformance-profiles=GATEWAY-HTTP', `--report-output=${REPORT}`,
    '--organization=portico', '--project=portico', '--url=https://portico.dev', `--version=${version}`, '--contact=https://portico.dev',
    '--mode=default', '--cleanup-base-resources=true',
    // GatewayStaticAddresses asks for one of the addresses Portico was given and for one it was
    // not (a documentation address, 192.0.2.1, that no test sends traffic to).
    `--usable-address=${gatewayAddresses.at(-1)}`, '--unusable-address=192.0.2.1',
  ];
  const command = `KUBECONFIG=<admin kubeconfig> conformance.test ${args.join(' ')}`;
  await rm(REPORT, { force: true }); // a report left from an earlier run must not stand for this one
  console.log(`running: ${command}`);
  const code = await new Promise<number>((resolve) => {
    const log = createWriteStream(LOG);
    const child = spawn(join(env.bin, 'conformance.test'), args, { env: { ...process.env, KUBECONFIG: cluster.adminKubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on('close', (c) => log.end(() => resolve(c ?? 1)));
  });
  const report = await readFile(REPORT, 'utf8').catch(() => '');
  if (report === '') throw new Error(`the suite exited ${code} without a report (its output: ${LOG})`);
  // The names under each profile's `failedTests:`.
  const failed = [...report.matchAll(/failedTests:\n((?: +- \S+\n)+)/g)].flatMap((m) => m[1]!.trim().split('\n').map((line) => line.replace(/^ *- /, '')));
  const notes = failed.map((name) => `- **${name}**: ${KNOWN_FAILURES[name] ?? 'not analysed yet.'}`).join('\n') || '- none';
  await writeFile(join(ROOT, 'conformance', 'README.md'), `# Gateway API conformance

\`report-${VERSION}.yaml\` is the suite's own report. \`npm run conformance\` (\`conformance/run.ts\`)
starts the e2e cluster (kube-apiserver, etcd and kube-controller-manager v1.34.4, the e2e node
running the suite's pods, \`echo-basic\` built from the suite's module), installs the Gateway API
${VERSION} standard CRDs, creates GatewayClass \`portico\` (controllerName
\`portico.dev/gateway-controller\`), starts Portico in controller mode on the node's ports 80 and 443
(with \`--gateway-addresses\` naming eight more node addresses, so Gateways get one each), and runs the suite's test binary, built unmodified from
\`sigs.k8s.io/gateway-api/conformance@${VERSION}\` by \`e2e/build-binaries.sh\`:

    ${command.replace(ROOT, './')}

The suite exited ${code}. Its output is written beside the report as \`suite-${VERSION}.log\` (not kept
in the repository).

## Notes on failed tests

${notes}
`);
  console.log(`conformance suite exited ${code}; report: ${REPORT}`);
} catch (err) {
  console.error(`conformance: the suite could not run: ${(err as Error).message}`);
  exitCode = 1;
} finally {
  await stopProcess(portico);
  await env.tearDown();
}
process.exit(exitCode);
