// The manifest parser thread: results come back in batches, and a file the thread dies on (out of
// memory, or out of time) is refused by name while every other file is read, wherever it stands.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManifestParser } from '../../src/sources/manifest-parser.ts';

const FILES = 150;
let dir: string;
const names = Array.from({ length: FILES }, (_, i) => `svc-${String(i).padStart(3, '0')}.yaml`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-parser-'));
  await Promise.all(names.map((name, i) => writeFile(join(dir, name), `apiVersion: v1\nkind: Service\nmetadata: {name: svc-${i}}\nspec: {ports: [{port: 80}]}\n`)));
  // 200,000 small mappings: far more heap than the test's thread may have.
  await writeFile(join(dir, 'bomb.yaml'), `items:\n${'- {a: 1, b: 2}\n'.repeat(200_000)}`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the manifest parser thread', () => {
  it('reads every file, in batches', async () => {
    const parser = new ManifestParser();
    try {
      const results = await parser.parse(dir, names, 10 * 1024 * 1024, {});
      expect(results.size).toBe(FILES);
      for (const name of names) expect(results.get(name)?.kind).toBe('parsed');
    } finally {
      parser.close();
    }
  });

  it('refuses the one file it ran out of memory on, by name, and reads all the others', async () => {
    // The bomb in the middle of a batch: the results before it in that batch died with the thread.
    const order = [...names.slice(0, 100), 'bomb.yaml', ...names.slice(100)];
    const parser = new ManifestParser({ heapMb: 24, fileTimeoutMs: 30_000 });
    try {
      const results = await parser.parse(dir, order, 10 * 1024 * 1024, {});
      expect(results.size).toBe(FILES + 1);
      expect(results.get('bomb.yaml')).toMatchObject({ kind: 'refused', reason: 'parsing it needed more than 24 MB; not read' });
      for (const name of names) expect(results.get(name)?.kind, name).toBe('parsed');
    } finally {
      parser.close();
    }
  }, 60_000);
});
