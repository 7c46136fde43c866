import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { closeLingering } from './lingering-close.ts';
import type { OwnHeaders } from './headers.ts';

const pages = new Map<number, Buffer>();

/** nginx-style error page, built once per status. */
function page(status: number): Buffer {
  let body = pages.get(status);
  if (!body) {
    const title = `${status} ${STATUS_CODES[status] ?? ''}`.trim();
    body = Buffer.from(`<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>portico</center>\r\n</body>\r\n</html>\r\n`);
    pages.set(status, body);
  }
  return body;
}

/** The body length of Portico's own answers, for the access log (the head is written in one call, so Node keeps no copy of it). */
const answered = new WeakMap<ServerResponse, number>();

/** Bytes of body Portico's own answer sent on `res`, if Portico answered it. */
export function answeredBodyBytes(res: ServerResponse): number | undefined {
  return answered.get(res);
}

/**
 * Answers with Portico's own status page: the request's own headers, then `extra` (a step's or a
 * redirect's). When the response already started, the connection is closed instead.
 */
export function sendStatus(res: ServerResponse, status: number, own: OwnHeaders, extra?: Record<string, string | string[]>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendBody(res, status, { 'content-type': 'text/html', ...own, ...extra }, page(status));
}

/** Answers with `body` and a Content-Length; a HEAD request gets the head only. */
export function sendBody(res: ServerResponse, status: number, headers: Record<string, string | string[]>, body: Buffer | string): void {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  res.writeHead(status, { ...headers, 'content-length': length });
  const head = res.req.method === 'HEAD';
  answered.set(res, head ? 0 : length);
  res.end(head ? undefined : body);
}

/**
 * The same page written straight to a socket the HTTP server no longer manages (an upgrade
 * request, a request head Node could not parse), then a lingering close.
 */
export function writeRawStatus(socket: Duplex, status: number, extra?: Record<string, string>, text?: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = text === undefined ? page(status) : Buffer.from(text);
  const headers: Record<string, string> = { 'content-type': 'text/html', ...extra, 'content-length': String(body.length), connection: 'close' };
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  socket.write(head + '\r\n');
  socket.write(body);
  closeLingering(socket);
}
