// A directory large enough to be parsed on several threads: every file counted once, a broken
// one reported by name, and a change to one file picked up without reparsing the others.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManifestDirectorySource, type DirectoryLoad } from '../../src/sources/manifests.ts';
import { ingress } from '../helpers/manifests.ts';
import { waitFor } from '../helpers/portico.ts';

const FILES = 600;
let dir: string;
let source: ManifestDirectorySource;
const loads: DirectoryLoad[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-large-'));
  for (let i = 0; i < FILES; i++) await writeFile(join(dir, `ing-${String(i).padStart(4, '0')}.yaml`), ingress({ name: `app-${i}`, host: `app-${i}.example.com`, service: 'svc' }));
  await writeFile(join(dir, 'ing-0300.yaml'), 'kind: Ingress\nmetadata: {name: [broken\n');
  source = new ManifestDirectorySource(dir, (load) => loads.push(load));
  await source.start();
});

afterAll(async () => {
  source.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a large manifest directory', () => {
  it('reads every file once, in file order, and names the one that does not parse', () => {
    const first = loads[0]!;
    expect(first.snapshot.ingresses.size).toBe(FILES - 1);
    expect(first.problems.map((p) => p.object.name)).toEqual(['ing-0300.yaml#0']);
    // Objects without a creationTimestamp are stamped in file order ("oldest wins" follows it).
    const stamps = [0, 1, 599].map((i) => String(first.snapshot.ingresses.get(`default/app-${i}`)!.metadata!.creationTimestamp));
    expect([...stamps].sort()).toEqual(stamps);
  });

  it('picks up a change to one file', async () => {
    await writeFile(join(dir, 'ing-0300.yaml'), ingress({ name: 'fixed', host: 'fixed.example.com', service: 'svc' }));
    await waitFor(() => loads.at(-1)!.snapshot.ingresses.has('default/fixed'), 'the reload');
    expect(loads.at(-1)!.snapshot.ingresses.size).toBe(FILES);
    expect(loads.at(-1)!.problems).toEqual([]);
  });
});
