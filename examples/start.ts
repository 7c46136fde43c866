// `npm start`: runs the example backends on loopback, then Portico in standalone mode
// on the bundled manifests. See the README for the curl lines that answer.
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli.ts';
import { startEchoBackend } from './echo-backend.ts';

await startEchoBackend('tomcat-0', '127.0.0.1', 18081);
await startEchoBackend('tomcat-1', '127.0.0.1', 18082);
await startEchoBackend('echo-0', '127.0.0.1', 18091);

const manifests = fileURLToPath(new URL('./manifests', import.meta.url));
await main(['serve', '--manifests', manifests, '--listen-address', '127.0.0.1', ...process.argv.slice(2)]);
