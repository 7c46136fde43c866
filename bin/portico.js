#!/usr/bin/env node
// Installed entry point: runs the compiled CLI (built by `npm run build`, and by npm pack);
// from a checkout use `npm run portico`. The version check comes first: a static import of the
// CLI would be loaded, and could fail, before it.
import './require-node.js';

const { run } = await import('../dist/cli.js');
run(process.argv.slice(2));
