import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';

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

/** Answers with Portico's own status page; when the response already started, the connection is closed instead. */
export function sendStatus(res: ServerResponse, status: number, requestId: string, extra?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = page(status);
  res.writeHead(status, { 'content-type': 'text/html', 'content-length': body.length, 'x-request-id': requestId, ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function sendRedirect(res: ServerResponse, status: number, location: string, requestId: string): void {
  sendStatus(res, status, requestId, { location });
}
