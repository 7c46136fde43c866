import type { Server, Socket } from 'node:net';
import { isIP } from 'node:net';
import { Duplex } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import ipaddr from 'ipaddr.js';
import { Command, IPv4ProxyAddress, IPv6ProxyAddress, V1ProxyProtocol, V2ProxyProtocol } from 'proxy-protocol-js';

/** The client a load balancer announced in a PROXY protocol header. */
export interface ProxiedPeer {
  /** The connection's own peer: the load balancer. */
  readonly peer: string;
  /** The client; undefined when the header names none (a health check): the peer stands. */
  readonly address: string | undefined;
  /** The port the client connected to on the load balancer (X-Forwarded-Port). */
  readonly destinationPort: number;
}

/** ingress-nginx's `proxy-protocol-header-timeout`: the header must arrive within 5 s. */
const HEADER_TIMEOUT_MS = 5000;
const V1_MAX = 107; // the spec's longest v1 line, CRLF included
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Address block plus TLVs a v2 header may carry here; load balancers send a few dozen bytes. */
const V2_MAX_PAYLOAD = 4096;

/** tls.Server's own handshake timeout. */
const TLS_HANDSHAKE_TIMEOUT_MS = 120_000;

/** How the HTTPS listener terminates TLS: its default context and its choice by SNI. */
export interface TlsTermination {
  context(): SecureContext;
  sniCallback(servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void;
}

const peers = new WeakMap<Socket, ProxiedPeer>();

/** What the PROXY header of a connection said (the request's socket, TLS or not). */
export function proxiedPeer(socket: Socket): ProxiedPeer | undefined {
  return peers.get(socket);
}

/**
 * `use-proxy-protocol`: each new connection must start with a PROXY protocol v1 or v2 header
 * (read before TLS on the HTTPS listener), else it is closed. The header is framed here and
 * parsed by proxy-protocol-js; the bytes after it go to the server as if the connection had
 * started with them. `enabled` is asked per connection, so the ConfigMap switches it live.
 * TLS reads a socket's handle directly, past bytes given back to the stream, so on the HTTPS
 * listener (`tls` given) the TLS session is made here, over a stream that holds them, and handed
 * to the server as its `secureConnection`.
 */
export function acceptProxyProtocol(server: Server, enabled: () => boolean, tls?: TlsTermination): void {
  const accept = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const handOver = (socket: Socket): void => {
    for (const listener of accept) listener.call(server, socket);
  };
  server.on('connection', (socket: Socket) => {
    if (!enabled()) {
      handOver(socket);
      return;
    }
    let received: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), HEADER_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const framed = frameHeader(received);
      if (framed === 'more') return;
      clearTimeout(timer);
      socket.off('data', onData);
      if (framed === 'invalid') {
        socket.destroy();
        return;
      }
      const announced = parseHeader(received.subarray(0, framed));
      if (announced === 'invalid') {
        socket.destroy();
        return;
      }
      const rest = received.subarray(framed);
      const peer = { peer: socket.remoteAddress ?? '', address: announced?.address, destinationPort: announced?.destinationPort ?? socket.localPort ?? 0 };
      if (tls) {
        const secure = new TLSSocket(streamOf(socket, rest), { isServer: true, server, secureContext: tls.context(), SNICallback: tls.sniCallback, ALPNProtocols: ['http/1.1'] });
        peers.set(secure, peer);
        const handshake = setTimeout(() => secure.destroy(), TLS_HANDSHAKE_TIMEOUT_MS);
        secure.once('secure', () => {
          clearTimeout(handshake);
          server.emit('secureConnection', secure);
        });
        secure.on('error', () => secure.destroy());
        secure.once('close', () => clearTimeout(handshake));
        return;
      }
      peers.set(socket, peer);
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      handOver(socket);
      socket.resume();
    };
    socket.on('data', onData);
    socket.once('close', () => clearTimeout(timer));
  });
}

/** The header's length once it is all there, 'more' until then, 'invalid' if this is no PROXY header. */
export function frameHeader(bytes: Buffer): number | 'more' | 'invalid' {
  if (bytes[0] === 0x50) { // "P": v1, a text line
    const prefix = 'PROXY ';
    const seen = bytes.subarray(0, prefix.length).toString('latin1');
    if (!prefix.startsWith(seen)) return 'invalid';
    const end = bytes.subarray(0, V1_MAX).indexOf('\r\n');
    if (end >= 0) return end + 2;
    return bytes.length >= V1_MAX ? 'invalid' : 'more';
  }
  const signature = Math.min(bytes.length, V2_SIGNATURE.length);
  if (!bytes.subarray(0, signature).equals(V2_SIGNATURE.subarray(0, signature))) return 'invalid';
  if (bytes.length < 16) return 'more';
  const payload = bytes.readUInt16BE(14);
  if (payload > V2_MAX_PAYLOAD) return 'invalid';
  return bytes.length >= 16 + payload ? 16 + payload : 'more';
}

/**
 * The client a whole header announces; undefined for a header without one (v1 UNKNOWN, v2
 * LOCAL such as a load balancer's health check, v2 UNIX or UNSPEC): the peer address stands.
 */
export function parseHeader(header: Buffer): { address: string; destinationPort: number } | undefined | 'invalid' {
  try {
    if (header[0] === 0x50) {
      const line = header.toString('latin1');
      // The spec lets UNKNOWN carry anything up to the CRLF (the library wants addresses there).
      if (line.startsWith('PROXY UNKNOWN')) return undefined;
      const v1 = V1ProxyProtocol.parse(line);
      const family = v1.inetProtocol === 'TCP4' ? 4 : 6;
      if (isIP(v1.source.ipAddress) !== family || isIP(v1.destination.ipAddress) !== family) return 'invalid';
      if (!isPort(v1.source.port) || !isPort(v1.destination.port)) return 'invalid';
      return { address: ipaddr.parse(v1.source.ipAddress).toString(), destinationPort: v1.destination.port };
    }
    const v2 = V2ProxyProtocol.parse(new Uint8Array(header));
    if (v2.command === Command.LOCAL) return undefined;
    const a = v2.proxyAddress;
    if (a instanceof IPv4ProxyAddress || a instanceof IPv6ProxyAddress) {
      return { address: ipaddr.fromByteArray([...a.sourceAddress.address]).toString(), destinationPort: a.destinationPort };
    }
    return undefined;
  } catch {
    return 'invalid';
  }
}

/** A stream over the socket that first yields `first`: what TLS reads the connection through. */
function streamOf(socket: Socket, first: Buffer): Duplex {
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, done) {
      socket.write(chunk, done);
    },
    final(done) {
      socket.end(done);
    },
    destroy(err, done) {
      socket.destroy(err ?? undefined);
      done(err);
    },
  });
  if (first.length > 0) stream.push(first);
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('error', (err) => stream.destroy(err));
  socket.on('close', () => stream.destroy());
  return stream;
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 65535;
}
