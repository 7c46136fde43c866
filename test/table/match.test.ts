import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalisePrefix, normaliseRequestPath } from '../../src/table/paths.ts';
import { hostKey } from '../../src/table/match.ts';

describe('host keys', () => {
  it.each([
    ['App.Example.com', 'app.example.com'],
    ['app.example.com:8080', 'app.example.com'],
    ['app.example.com.', 'app.example.com'],
    ['[::1]:8080', '[::1]'],
    [undefined, ''],
  ])('%s → %s', (header, key) => expect(hostKey(header)).toBe(key));
});

describe('request path normalisation', () => {
  it.each([
    ['/a/b', '/a/b'],
    ['/a//b', '/a/b'],
    ['/a/./b', '/a/b'],
    ['/a/../b', '/b'],
    ['/a/b/..', '/a/'],
    ['/%61/b', '/a/b'],
    ['/a%2F..%2Fb', '/b'],
    ['/..', undefined],
    ['/%zz', undefined],
  ])('%s → %s', (raw, normalised) => expect(normaliseRequestPath(raw)).toBe(normalised));

  it('never yields a path with dot segments or empty inner segments', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom('a', 'b', '.', '..', '', '%2e', '%2F'), { maxLength: 8 }), (parts) => {
      const out = normaliseRequestPath('/' + parts.join('/'));
      if (out === undefined) return;
      const inner = out.split('/').slice(1, -1);
      expect(out.startsWith('/')).toBe(true);
      expect(inner).not.toContain('.');
      expect(inner).not.toContain('..');
      expect(inner).not.toContain('');
    }));
  });

  it('strips trailing slashes from prefixes but keeps the root', () => {
    expect(normalisePrefix('/foo/')).toBe('/foo');
    expect(normalisePrefix('/foo//')).toBe('/foo');
    expect(normalisePrefix('/')).toBe('/');
  });
});
