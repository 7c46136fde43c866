import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** nginx's `lingering_time` and `lingering_timeout`, plus a bound on what we are willing to discard. */
const LINGER_TOTAL_MS = 30_000;
const LINGER_IDLE_MS = 5_000;
const LINGER_MAX_BYTES = 64 * 1024 * 1024;
const LINGER_CHECK_MS = 250;

/**
 * An answer sent before the request body was read (413, redirects, 4xx/5xx from checks) must
 * not be followed by a plain close: closing a socket with unread data makes the kernel send a
 * reset, and the client (curl, Node, browsers) may then report the reset instead of our status.
 * Like nginx, after such a response we close only our write side, read and discard what the
 * client still sends, within bounds, and close once it stops.
 *
 * Call before the response is ended. Node ends a `Connection: close` response with
 * `socket.destroySoon()`; for this one socket that becomes the lingering close.
 */
export function closeLingeringAfter(res: ServerResponse): void {
  res.shouldKeepAlive = false;
  const socket = res.socket as (Socket & { destroySoon?: () => void }) | null;
  if (!socket) return;
  socket.destroySoon = () => closeLingering(socket);
}

/** Ends our side of the connection now, then discards incoming data until the client stops or a bound is hit. */
export function closeLingering(socket: Duplex): void {
  const counted = socket as Partial<Socket>;
  const bytes = (): number => counted.bytesRead ?? 0;
  const started = Date.now();
  const startBytes = bytes();
  let seen = startBytes;
  let lastData = started;
  // The HTTP parser may read the socket itself (no 'data' events), so progress is read off bytesRead.
  const check = setInterval(() => {
    const now = Date.now();
    if (bytes() !== seen) {
      seen = bytes();
      lastData = now;
    }
    if (now - started > LINGER_TOTAL_MS || now - lastData > LINGER_IDLE_MS || seen - startBytes > LINGER_MAX_BYTES) socket.destroy();
  }, LINGER_CHECK_MS);
  check.unref();
  socket.once('close', () => clearInterval(check));
  socket.once('end', () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.end();
  socket.resume();
}
