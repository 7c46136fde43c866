#!/usr/bin/env node
// Installed entry point: runs the compiled CLI (npm run build); from a checkout use `npm run portico`.
import { run } from '../dist/cli.js';

run(process.argv.slice(2));
