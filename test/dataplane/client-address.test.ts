// Who the client is: nginx's realip module (real_ip_recursive on) behind trusted proxies, and the
// PROXY protocol header parser, on crafted and fuzzed input.
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Command, IPv4Address, IPv4ProxyAddress, IPv6Address, IPv6ProxyAddress, TransportProtocol, V1ProxyProtocol, V2ProxyProtocol, INETProtocol, Peer } from 'proxy-protocol-js';
import { clientOf } from '../../src/dataplane/client-address.ts';
import { frameHeader, parseHeader } from '../../src/dataplane/proxy-protocol.ts';
import { parseAddressRanges, parseClientAddress, type AddressRanges } from '../../src/table/address-ranges.ts';
import type { ServerSettings } from '../../src/table/server-settings.ts';
import { INGRESS_NGINX_SERVER_SETTINGS } from '../../src/routing/config-map/index.ts';
import { propertyRuns } from '../helpers/property.ts';

const ranges = (text: string) => parseAddressRanges(text) as AddressRanges;
const settings = (o: Partial<ServerSettings['clientAddress']> = {}, proxyProtocol = false): ServerSettings => ({
  ...INGRESS_NGINX_SERVER_SETTINGS, proxyProtocol,
  clientAddress: { ...INGRESS_NGINX_SERVER_SETTINGS.clientAddress, realIp: true, forwardedHeaders: true, trusted: ranges('10.0.0.0/8'), ...o },
});
const request = (peer: string, headers: Record<string, string | string[]> = {}): IncomingMessage =>
  ({ socket: { remoteAddress: peer, localPort: 80 }, headers }) as unknown as IncomingMessage;

describe('client address behind trusted proxies', () => {
  it('takes the right-most untrusted address of X-Forwarded-For from a trusted peer', () => {
    const c = clientOf(request('10.0.0.2', { 'x-forwarded-for': '198.51.100.1, 203.0.113.9, 10.1.2.3' }), 'http', settings());
    expect(c.address).toBe('203.0.113.9');
    expect(c.forwardedFor).toBe('203.0.113.9');
  });

  it('takes the left-most when every address is trusted, and stops at an entry that is no address', () => {
    expect(clientOf(request('10.0.0.2', { 'x-forwarded-for': '10.9.9.9, 10.1.1.1' }), 'http', settings()).address).toBe('10.9.9.9');
    expect(clientOf(request('10.0.0.2', { 'x-forwarded-for': 'bogus, 10.1.1.1' }), 'http', settings()).address).toBe('10.1.1.1');
    expect(clientOf(request('10.0.0.2', { 'x-forwarded-for': 'bogus' }), 'http', settings()).address).toBe('10.0.0.2');
  });

  it('ignores every forwarded header from an untrusted peer', () => {
    const c = clientOf(request('192.0.2.50', { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.test', 'x-forwarded-port': '8443' }), 'http', settings());
    expect(c).toEqual({ address: '192.0.2.50', proto: 'http', host: undefined, port: 80, forwardedFor: '192.0.2.50' });
  });

  it('trusts X-Forwarded-Proto, -Host and -Port only with use-forwarded-headers', () => {
    const headers = { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.test', 'x-forwarded-port': '443' };
    expect(clientOf(request('10.0.0.2', headers), 'http', settings())).toMatchObject({ proto: 'https', host: 'app.test', port: 443 });
    // enable-real-ip alone: the address, nothing else.
    expect(clientOf(request('10.0.0.2', headers), 'http', settings({ forwardedHeaders: false }))).toMatchObject({ address: '203.0.113.9', proto: 'http', host: undefined, port: 80 });
    // A repeated X-Forwarded-Proto or a bad port is not trusted.
    expect(clientOf(request('10.0.0.2', { 'x-forwarded-proto': ['https', 'http'], 'x-forwarded-port': '99999' }), 'http', settings())).toMatchObject({ proto: 'http', port: 80 });
  });

  it('reads forwarded-for-header, and compute-full-forwarded-for appends the peer', () => {
    expect(clientOf(request('10.0.0.2', { 'x-client-ip': '203.0.113.7' }), 'http', settings({ realIpHeader: 'x-client-ip' })).address).toBe('203.0.113.7');
    const full = clientOf(request('10.0.0.2', { 'x-forwarded-for': '203.0.113.9' }), 'http', settings({ fullForwardedFor: true }));
    expect(full.forwardedFor).toBe('203.0.113.9, 10.0.0.2');
  });

  it('is the peer when nothing is trusted, and never throws on any header value', () => {
    expect(clientOf(request('10.0.0.2', { 'x-forwarded-for': '203.0.113.9' }), 'https', INGRESS_NGINX_SERVER_SETTINGS).address).toBe('10.0.0.2');
    fc.assert(fc.property(fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()), { maxLength: 6 }), fc.constantFrom('10.0.0.2', '192.0.2.1'), (items, peer) => {
      const c = clientOf(request(peer, { 'x-forwarded-for': items.join(', ') }), 'http', settings());
      // The client is the peer or one of the addresses it was told about, never anything else.
      const told = items.map((i) => parseClientAddress(i.trim())?.toString());
      expect(c.address === peer || told.includes(c.address)).toBe(true);
      if (peer === '192.0.2.1') expect(c.address).toBe(peer);
    }), propertyRuns(300));
  });
});

describe('PROXY protocol header', () => {
  const v1 = (text: string) => Buffer.from(text, 'latin1');
  it('frames and reads v1 TCP4, TCP6 and UNKNOWN', () => {
    const line = new V1ProxyProtocol(INETProtocol.TCP4, new Peer('198.51.100.7', 4000), new Peer('203.0.113.1', 443)).build();
    const bytes = Buffer.concat([v1(line), v1('GET / HTTP/1.1\r\n')]);
    expect(frameHeader(bytes)).toBe(line.length);
    expect(parseHeader(bytes.subarray(0, line.length))).toEqual({ address: '198.51.100.7', destinationPort: 443 });
    expect(parseHeader(v1('PROXY TCP6 2001:db8::1 2001:db8::2 1 8443\r\n'))).toEqual({ address: '2001:db8::1', destinationPort: 8443 });
    expect(parseHeader(v1('PROXY UNKNOWN\r\n'))).toBeUndefined();
    expect(frameHeader(v1('PROXY TCP4 1.2.3.4'))).toBe('more');
  });

  it('frames and reads v2 IPv4, IPv6 and LOCAL, with TLVs after the addresses', () => {
    const four = Buffer.from(new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, new IPv4ProxyAddress(IPv4Address.createFrom([198, 51, 100, 7]), 4000, IPv4Address.createFrom([203, 0, 113, 1]), 443)).build());
    expect(frameHeader(Buffer.concat([four, v1('GET')]))).toBe(four.length);
    expect(parseHeader(four)).toEqual({ address: '198.51.100.7', destinationPort: 443 });
    const six = Buffer.from(new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, new IPv6ProxyAddress(IPv6Address.createFrom([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 1, IPv6Address.createFrom([]), 8443)).build());
    expect(parseHeader(six)).toEqual({ address: '2001:db8::1', destinationPort: 8443 });
    const local = Buffer.from(new V2ProxyProtocol(Command.LOCAL, TransportProtocol.UNSPEC, new IPv4ProxyAddress(IPv4Address.createFrom([0, 0, 0, 0]), 0, IPv4Address.createFrom([0, 0, 0, 0]), 0)).build());
    expect(parseHeader(local)).toBeUndefined();
    // A TLV (here: 7 bytes of type 0x04) extends the length; the frame includes it.
    const tlv = Buffer.from(four);
    tlv.writeUInt16BE(tlv.readUInt16BE(14) + 7, 14);
    const withTlv = Buffer.concat([tlv, Buffer.from([0x04, 0x00, 0x04, 1, 2, 3, 4])]);
    expect(frameHeader(withTlv)).toBe(withTlv.length);
    expect(parseHeader(withTlv)).toEqual({ address: '198.51.100.7', destinationPort: 443 });
  });

  it('refuses what is not a PROXY header', () => {
    expect(frameHeader(v1('GET / HTTP/1.1\r\n'))).toBe('invalid');
    expect(frameHeader(v1(`PROXY TCP4 ${'1'.repeat(120)}`))).toBe('invalid');
    expect(parseHeader(v1('PROXY TCP4 not-an-ip 203.0.113.1 1 2\r\n'))).toBe('invalid');
    expect(parseHeader(v1('PROXY TCP4 2001:db8::1 203.0.113.1 1 2\r\n'))).toBe('invalid');
    expect(parseHeader(v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 70000\r\n'))).toBe('invalid');
  });

  it('never throws on arbitrary bytes, and only frames what it can parse or refuse', () => {
    const signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([signature, b])), fc.string({ maxLength: 110 }).map((t) => v1(`PROXY ${t}`))), (bytes) => {
      const framed = frameHeader(bytes);
      if (typeof framed === 'number') {
        expect(framed).toBeLessThanOrEqual(bytes.length);
        const parsed = parseHeader(bytes.subarray(0, framed));
        expect(parsed === undefined || parsed === 'invalid' || typeof parsed.address === 'string').toBe(true);
      }
    }), propertyRuns(500));
  });
});
