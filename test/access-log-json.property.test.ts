// Property: the JSON access-log line, written out by hand for speed, is the text JSON.stringify
// gives for the same fields, whatever a client put in the request id, path or address; and lines
// handed to stdout in batches arrive whole, in order, none lost, no batch over PIPE_BUF bytes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccessLog, LineBatch } from '../src/observability/access-log.ts';
import type { RequestRecord } from '../src/observability/request-record.ts';
import type { Backend, Route } from '../src/table/types.ts';
import { propertyRuns } from './helpers/property.ts';

/** Any string a client could send, lone surrogates and controls included. */
const anyText = fc.string({ unit: 'binary', maxLength: 40 });
const token = fc.stringMatching(/^[A-Z]{1,10}$/);
const hostText = fc.stringMatching(/^([a-z0-9.-]{0,30}|\[[0-9a-f:.]{2,20}\])$/);
const duration = fc.double({ min: 0, max: 1e6, noNaN: true });
const count = fc.nat({ max: 1e9 });

function lineOf(r: RequestRecord): string {
  let line = '';
  new AccessLog('json', { logQuery: true }, { write: (l) => (line = l) }).write(r);
  return line;
}

/** The line as JSON.stringify writes it, field by field (Portico's field names and order). */
function expected(r: RequestRecord): string {
  const route = r.route;
  const u = r.upstream;
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  return JSON.stringify({
    time: new Date(r.time).toISOString(), request_id: r.requestId, client: r.clientAddress, method: r.method, host: r.host, path: r.path,
    status: r.status, bytes_in: r.bytesIn, bytes_out: r.bytesOut, duration_ms: round(r.durationMs),
    upstream: u?.address ?? null, upstream_status: u?.status ?? null, upstream_ms: u ? round(u.responseMs) : null, retries: r.retries,
    namespace: route?.backend.namespace ?? null, ingress: route ? route.ingress.slice(route.ingress.indexOf('/') + 1) : null,
    service: route?.backend.service ?? null, alternative_upstream: r.canary?.id ?? null,
  }) + '\n';
}

const record = fc.record({
  time: fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }),
  requestId: anyText, clientAddress: anyText, method: token, host: hostText, path: anyText,
  status: fc.integer({ min: 100, max: 599 }), bytesIn: count, bytesOut: count, durationMs: duration, retries: fc.nat({ max: 5 }),
  upstream: fc.option(fc.record({ address: fc.stringMatching(/^[0-9.]{7,15}:[0-9]{1,5}$/), status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }), connectMs: duration, headerMs: fc.constant(undefined), responseMs: duration }), { nil: undefined }),
  route: fc.option(fc.record({ namespace: anyText, name: anyText, service: anyText }).map(({ namespace, name, service }) => ({ ingress: `${namespace}/${name}`, backend: { namespace, service } }) as unknown as Route), { nil: undefined }),
  canary: fc.option(anyText.map((id) => ({ id }) as Backend), { nil: undefined }),
}) as fc.Arbitrary<RequestRecord>;

describe('JSON access log line', () => {
  it('is the text JSON.stringify writes for the same fields', () => {
    fc.assert(fc.property(record, (r) => {
      const line = lineOf(r);
      expect(line).toBe(expected(r));
      JSON.parse(line);
    }), propertyRuns(2000));
  });

  it('keeps the route fields apart when routes are reused', () => {
    const a = { ingress: 'shop/web', backend: { namespace: 'shop', service: 'web' } } as unknown as Route;
    const b = { ingress: 'blog/"x"', backend: { namespace: 'blog', service: 'posts\n' } } as unknown as Route;
    const base = { time: 0, requestId: 'id', clientAddress: '10.0.0.1', method: 'GET', host: 'h', path: '/', status: 200, bytesIn: 1, bytesOut: 2, durationMs: 3, upstream: undefined, retries: 0 };
    for (const route of [a, b, a, b]) {
      const r = { ...base, route };
      expect(lineOf(r)).toBe(expected(r));
    }
  });
});

describe('stdout batches', () => {
  it('hand on every line whole and in order, in batches of at most PIPE_BUF bytes', () => {
    fc.assert(fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 600 }).map((s) => `${s}\n`), { maxLength: 60 }), (lines) => {
      const batches: string[] = [];
      const batch = new LineBatch((b) => batches.push(b));
      for (const line of lines) batch.add(line);
      batch.flush();
      expect(batches.join('')).toBe(lines.join(''));
      for (const b of batches) {
        expect(b.endsWith('\n')).toBe(true);
        // A line longer than PIPE_BUF on its own is the only batch allowed over it.
        if (Buffer.byteLength(b) > 4096) expect(lines).toContain(b);
      }
    }), propertyRuns(300));
  });

  it('hands a batch on when the event loop turn ends', async () => {
    const batches: string[] = [];
    const batch = new LineBatch((b) => batches.push(b));
    batch.add('a\n');
    batch.add('b\n');
    expect(batches).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual(['a\nb\n']);
  });
});
