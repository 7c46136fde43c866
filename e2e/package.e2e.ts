// The npm package as someone installs it: `npm pack` (which builds dist/ first), the tarball
// installed into an empty project from npm's cache, and its `portico` bin run.
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './lib/environment.ts';
import { run } from './lib/exec.ts';

describe('npm package', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('packs a tarball whose portico bin runs once installed, and refuses an old Node in one line', async () => {
    dir = await mkdtemp(join(tmpdir(), 'portico-pack-'));
    const packed = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, timeoutMs: 5 * 60_000 })) as [{ filename: string; files: { path: string }[] }];
    const files = packed[0].files.map((f) => f.path);
    expect(files).toContain('dist/cli.js');
    expect(files).toContain('bin/portico.js');
    expect(files).toContain('charts/portico/Chart.yaml');
    expect(files.filter((f) => /^(test|e2e|bench|src|\.ci)\//.test(f))).toEqual([]);

    // re2's install script would download its prebuilt binary from GitHub (or compile it for
    // minutes); its own mirror variables point it at the addon this checkout already built.
    const mirror = join(dir, 'mirror');
    await mkdir(mirror);
    const addon = await readFile(join(ROOT, 'node_modules/re2/build/Release/re2.node'));
    await writeFile(join(mirror, `${process.platform}-${process.arch}-${process.versions.modules}.gz`), gzipSync(addon));
    const project = join(dir, 'project');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), '{"name": "consumer", "version": "1.0.0", "private": true, "allowScripts": {"re2": true}}\n');
    // --prefer-offline: the checkout's npm ci left every package in npm's cache.
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed[0].filename)], {
      cwd: project, timeoutMs: 5 * 60_000,
      env: { ...process.env, RE2_DOWNLOAD_MIRROR: mirror, RE2_DOWNLOAD_SKIP_PATH: '1', RE2_DOWNLOAD_SKIP_VER: '1' },
    }).catch((err: Error) => {
      throw new Error(`installing the tarball: ${err.message}`);
    });

    const bin = join(project, 'node_modules/.bin/portico');
    const version = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect((await run(process.execPath, [bin, '--version'])).trim()).toBe(version);
    expect(await run(process.execPath, [bin, 'serve', '--help'])).toContain('--manifests <path>');

    // An older Node (this machine's own, where there is one) is refused before anything loads.
    const old = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => {
      try {
        return Number(execFileSync(path, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' })) < 24;
      } catch {
        return false;
      }
    });
    if (old) {
      const refused = await run(old, [bin, '--version']).then(() => '', (err: Error) => err.message);
      expect(refused).toMatch(/portico: Node\.js 24\.15 or later is needed; this is v\d+/);
    }
  }, 10 * 60_000);
});
