// Property: whatever the request-target, Portico forwards a request only when every reasonable
// server would read the forwarded path as something the chosen route matches.
import type { IncomingMessage } from 'node:http';
import { posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRejection, readRequestHead } from '../../src/dataplane/request-head.ts';
import { hostRoutes, matchPath, matchReadings } from '../../src/table/match.ts';
import { buildFixture } from '../helpers/build-fixture.ts';
import { propertyRuns } from '../helpers/property.ts';

// split.example.com: / → svc-c, /public → svc-a, /admin → svc-b, Exact /admin/login → svc-a.
const table = buildFixture('split-host').table;

const decode = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
};

/** How servers read a forwarded path, written independently of Portico's own readings. */
const servers: Record<string, (path: string) => string | undefined> = {
  'Express/fastify (raw)': (p) => p,
  'WHATWG URL': (p) => URL.parse(p, 'http://split.example.com')?.pathname,
  'WHATWG URL, segments decoded': (p) => {
    const parts = URL.parse(p, 'http://split.example.com')?.pathname.split('/').map((s) => decode(s));
    return parts?.includes(undefined) ? undefined : parts?.join('/');
  },
  'Python WSGI PATH_INFO': (p) => decode(p),
  'nginx $uri': (p) => {
    const d = decode(p);
    if (d === undefined) return undefined;
    const n = posix.normalize(d);
    return d.split('/').filter((s) => s === '..').length > 0 && n === '/' && !d.endsWith('/') ? undefined : n;
  },
  'Tomcat': (p) => {
    if (/%2f|%5c|\\/i.test(p)) return undefined; // refused by Tomcat's defaults
    const parts = p.split('/').map((s) => decode(s.split(';')[0]!));
    if (parts.includes(undefined)) return undefined;
    let depth = 0;
    for (const s of parts.slice(1)) depth = s === '..' ? depth - 1 : s === '.' || s === '' ? depth : depth + 1;
    return depth < 0 ? undefined : posix.normalize(parts.join('/'));
  },
};

const segment = fc.constantFrom('public', 'admin', 'login', 'x', '', '.', '..', '%2e', '%2E', '%2e%2e', '.%2e', '%2e.', '%2f', '%2F', '%5c', '\\', '..\\',
  ';', ';x=1', '..;', '.;', '%3b', '%61dmin', 'publi%63', '%2561dmin', '%25', '%', '%zz', '%00', '#', '?', 'a%20b', 'é', '%C3%A9', '%C3', '*', '@');
const target = fc.tuple(
  fc.constantFrom('', '', '', 'http://split.example.com', 'HTTP://Split.Example.com:80', 'http://other.example.com', 'https://split.example.com'),
  fc.array(segment, { minLength: 1, maxLength: 6 }),
  fc.constantFrom('', '', '?q=1', '?a=/../admin', '#frag'),
).map(([authority, parts, suffix]) => `${authority}/${parts.join('/')}${suffix}`);

function request(url: string): IncomingMessage {
  return { url, headers: { host: 'split.example.com' }, rawHeaders: ['Host', 'split.example.com'] } as unknown as IncomingMessage;
}

describe('request-targets (property)', () => {
  it('never forwards a path that some server reads as matching another route', () => {
    fc.assert(fc.property(target, (url) => {
      const head = readRequestHead(request(url));
      if (isRejection(head)) return;
      const routes = hostRoutes(table, head.host);
      const match = matchReadings(table, routes, head.path, head.otherReadings);
      if (typeof match === 'number') return;
      const forwarded = head.rawPath; // what the pod receives (this host has no rewrite)
      expect(forwarded.startsWith('/')).toBe(true);
      expect(forwarded).not.toContain('#');
      for (const [server, read] of Object.entries(servers)) {
        const reading = read(forwarded);
        if (reading === undefined || !reading.startsWith('/')) continue; // that server refuses the request itself
        expect(matchPath(table, routes, reading)?.route.backend.id, `${server} reads ${JSON.stringify(forwarded)} as ${JSON.stringify(reading)}`).toBe(match.route.backend.id);
      }
    }), propertyRuns(5000));
  });
});
