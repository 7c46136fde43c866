import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { V1Ingress } from '@kubernetes/client-node';
import { formatDiagnostic, type Diagnostic } from '../diagnostics.ts';
import type { Logger } from '../log.ts';

/** What the webhook answers for one Ingress. */
export interface AdmissionDecision {
  readonly allowed: boolean;
  /** Why it is refused: the blocking diagnostics, as the log and Events word them. */
  readonly message?: string;
  /** The other diagnostics: kubectl prints them as `Warning: …`. */
  readonly warnings: readonly string[];
}

/** The API server's limits on warnings: 256 characters each is what it keeps readable. */
const MAX_WARNING = 256;
const MAX_WARNINGS = 16;
/** An AdmissionReview carries one object; the API server's own limit on a request is 3 MiB. */
const MAX_REVIEW_BYTES = 3 * 1024 * 1024;

/** The decision for an Ingress from the diagnostics a build gives it. */
export function decide(diagnostics: readonly Diagnostic[]): AdmissionDecision {
  const refused = diagnostics.filter((d) => d.blocks);
  const warnings = diagnostics.filter((d) => !d.blocks).slice(0, MAX_WARNINGS).map((d) => {
    const text = formatDiagnostic(d);
    return text.length > MAX_WARNING ? `${text.slice(0, MAX_WARNING - 1)}…` : text;
  });
  return refused.length === 0 ? { allowed: true, warnings } : { allowed: false, message: refused.map(formatDiagnostic).join('; '), warnings };
}

export interface WebhookOptions {
  /** `host:port` or `:port` (all addresses), as ingress-nginx's `--validating-webhook`. */
  readonly listen: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * The validating admission webhook (ingress-nginx's `--validating-webhook`): the API server
 * sends each Ingress before it is stored; `review` runs the same pure build Portico serves from
 * on the current objects plus this one. Errors that would take a path out of service refuse
 * it with the diagnostic's text; other diagnostics come back as warnings.
 */
export class AdmissionWebhook {
  private readonly server: Server;
  private readonly options: WebhookOptions;

  constructor(options: WebhookOptions, review: (ingress: V1Ingress) => AdmissionDecision, log: Logger) {
    this.options = options;
    this.server = createServer({ cert: readFileSync(options.certFile), key: readFileSync(options.keyFile), minVersion: 'TLSv1.2' }, (req, res) => {
      handle(req, res, review, log).catch((err: unknown) => {
        log.warn({ err: String(err) }, 'admission review failed');
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
  }

  async listen(): Promise<number> {
    const colon = this.options.listen.lastIndexOf(':');
    const host = this.options.listen.slice(0, colon) || undefined;
    const port = Number(this.options.listen.slice(colon + 1));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

interface AdmissionReview {
  apiVersion?: string;
  kind?: string;
  request?: { uid?: string; kind?: { kind?: string }; object?: V1Ingress };
}

async function handle(req: IncomingMessage, res: ServerResponse, review: (ingress: V1Ingress) => AdmissionDecision, log: Logger): Promise<void> {
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_REVIEW_BYTES) {
      res.writeHead(413).end();
      return;
    }
    chunks.push(chunk);
  }
  let body: AdmissionReview;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReview;
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('not an AdmissionReview (JSON)');
    return;
  }
  const request = body.request;
  if (body.kind !== 'AdmissionReview' || !request?.uid) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('not an AdmissionReview');
    return;
  }
  // Anything but an Ingress passes: the webhook configuration asks for Ingresses only.
  const decision = request.kind?.kind === 'Ingress' && request.object ? review(request.object) : { allowed: true, warnings: [] };
  if (!decision.allowed) {
    const o = request.object?.metadata;
    log.info({ ingress: `${o?.namespace}/${o?.name}`, reason: decision.message }, 'admission refused an Ingress');
  }
  const response = {
    uid: request.uid,
    allowed: decision.allowed,
    ...(decision.warnings.length > 0 ? { warnings: decision.warnings } : {}),
    ...(decision.allowed ? {} : { status: { code: 400, reason: 'BadRequest', message: decision.message } }),
  };
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: body.apiVersion ?? 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
}
