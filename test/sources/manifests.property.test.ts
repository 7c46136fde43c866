// Property: no file content makes manifest parsing throw, and a parse error never quotes the file.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/sources/manifests.ts';
import { propertyRuns } from '../helpers/property.ts';

/** Stands for a private key or a token: it must never reach a diagnostic about a broken file. */
const SECRET = 'MIIEsecretKEYmaterial';
const token = fc.constantFrom(
  'apiVersion: v1\n', 'kind: Secret\n', 'kind: Ingress\n', 'kind: List\n', 'items:\n', 'metadata: {name: x}\n', 'metadata:\n', '  name: a\n',
  'spec:\n', 'data:\n', `  tls.key: ${SECRET}\n`, `"${SECRET}`, `'${SECRET}`, `${SECRET}: `, `&${SECRET} `, `*${SECRET}`, `!${SECRET} `,
  'a: &x [1, 2]\n', 'b: *x\n', 'c: *missing\n', '<<: *x\n', '- ', ': ', '? ', '[', ']', '{', '}', ',', '"', "'", '|\n', '>\n', '#', '\t', '  ',
  '\n', '---\n', '...\n', '%YAML 1.2\n', '%TAG ! tag:x,2026:\n', '!!binary ', '!!int ', '\\', '@', '`', '\u0000', '\ufeff', 'é',
);
const file = fc.oneof(fc.array(token, { maxLength: 30 }).map((t) => t.join('')), fc.string({ maxLength: 200 }));

describe('manifest parsing (property)', () => {
  it('never throws, whatever the file holds, and never quotes it in a parse error', () => {
    fc.assert(fc.property(file, (text) => {
      const parsed = parseManifest(text, 'fuzz.yaml');
      for (const problem of parsed.problems) {
        if (problem.code === 'ManifestParseError') expect(problem.message).not.toContain(SECRET);
      }
    }), propertyRuns(3000));
  });

  it('refuses alias bombs and unresolved aliases as parse errors', () => {
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`)].join('\n');
    for (const text of [laughs, 'x: *typo', `${laughs}\n---\nkind: Ingress`, 'a: &a [*a]', 'a: &a {b: *a}']) {
      const parsed = parseManifest(text, 'alias.yaml');
      expect(parsed.unparseable).toBe(true);
      expect(parsed.problems[0]).toMatchObject({ code: 'ManifestParseError' });
      expect(parsed.problems[0]!.message).toContain('alias');
    }
  });

  it('reads aliases that repeat a block a few times, and names the document of a syntax error', () => {
    const labels = 'metadata: {name: svc-%, labels: &labels {app: shop, tier: web}}\nspec: {selector: *labels, ports: [{port: 80}]}';
    const text = [1, 2].map((n) => `apiVersion: v1\nkind: Service\n${labels.replace('%', String(n))}`).join('\n---\n');
    const parsed = parseManifest(text, 'svc.yaml');
    expect(parsed.problems).toEqual([]);
    expect(parsed.objects.map((o) => (o['spec'] as { selector: unknown }).selector)).toEqual([{ app: 'shop', tier: 'web' }, { app: 'shop', tier: 'web' }]);
    const broken = parseManifest(`${text}\n---\nkind: Ingress\nmetadata: {name: [x\n`, 'svc.yaml');
    expect(broken.problems).toMatchObject([{ code: 'ManifestParseError', object: { name: 'svc.yaml#2' } }]);
    expect(broken.problems[0]!.message).toMatch(/^YAML syntax error at line 13, column \d+: [a-z]/);
  });
});
