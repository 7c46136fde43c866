// The process inside a test pod's network namespace: the echo backend on all addresses.
import { startEchoBackend } from '../../examples/echo-backend.ts';

const [name = 'pod', port = '8080'] = process.argv.slice(2);
await startEchoBackend(name, '0.0.0.0', Number(port));
console.log(`${name} serving on port ${port}`); // what `kubectl logs` shows
process.on('SIGTERM', () => process.exit(0));
