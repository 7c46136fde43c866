import type { IncomingMessage } from 'node:http';
import type { RequestTemplate } from '../table/types.ts';
import { cookieOf } from './backend-choice.ts';
import { basicCredentials } from './credentials.ts';
import type { RequestHead } from './request-head.ts';

/** What a template's variables are read from. */
export interface TemplateRequest {
  readonly req: IncomingMessage;
  readonly head: RequestHead;
  readonly clientAddress: string;
  readonly proto: 'http' | 'https';
}

/** The template's text for one request: each typed part looked up, nothing evaluated. */
export function renderTemplate(template: RequestTemplate, r: TemplateRequest): string {
  let out = '';
  for (const part of template.parts) {
    switch (part.kind) {
      case 'text': out += part.text; break;
      case 'remote_addr': out += r.clientAddress; break;
      case 'request_uri': out += r.req.url ?? ''; break;
      case 'escaped_request_uri': out += encodeURIComponent(r.req.url ?? ''); break;
      case 'uri': out += r.head.path; break;
      case 'host': out += r.head.host; break;
      case 'scheme': out += r.proto; break;
      case 'args': out += r.head.query.slice(1); break;
      case 'remote_user': out += basicCredentials(r.req.headers.authorization)?.[0] ?? ''; break;
      case 'header': {
        const value = r.req.headers[part.name];
        out += Array.isArray(value) ? value.join(',') : (value ?? '');
        break;
      }
      case 'cookie': out += cookieOf(r.req, part.name) ?? ''; break;
      case 'arg': out += new URLSearchParams(r.head.query.slice(1)).get(part.name) ?? ''; break;
    }
  }
  return out;
}
