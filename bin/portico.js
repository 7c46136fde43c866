#!/usr/bin/env node
// Installed entry point: runs the compiled CLI (npm run build); from a checkout use `npm run portico`.
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`portico: ${err?.message ?? err}\n`);
  process.exit(1);
});
