import type { IncomingMessage } from 'node:http';
import { hostKey } from '../table/match.ts';
import { normaliseRequestPath, resolveSegments } from '../table/paths.ts';

/**
 * The request line and Host as Portico routes and forwards them. Portico matches on one
 * reading of the path and forwards the raw one, so everything here exists to make sure
 * the pod cannot read the forwarded path as something the route would not match.
 */
export interface RequestHead {
  /** Host lookup key: lower case, no port (the authority of an absolute-form target wins over Host). */
  readonly host: string;
  /** Host with port as received: for X-Forwarded-Host, the Host sent upstream and redirects. */
  readonly authority: string;
  /** The origin-form path as received, without the query: what the pod receives unless rewritten. */
  readonly rawPath: string;
  /** `?…` as received, or ''. */
  readonly query: string;
  /** The path matched: nginx's `$uri` reading (percent-decoded, dot segments resolved, slashes merged). */
  readonly path: string;
  /**
   * Other ways a reasonable server reads `rawPath`, when they differ from `path`: a request
   * is only forwarded when each of them matches the same route (empty for ordinary paths).
   */
  readonly otherReadings: readonly string[];
}

/** A request refused before routing, with the status it is answered with. */
export interface HeadRejection {
  readonly status: 400 | 501;
}

// RFC 3986 host (reg-name letters, digits, `-._`; or an IPv6 literal) and an optional port.
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]*)(?::\d{1,5})?$/;
const ABSOLUTE_FORM = /^https?:\/\/([^/?]*)(.*)$/i;
/** Characters that make servers read a path differently: escapes, dot segments, `//`, `;` parameters, `\`. */
const NEEDS_READINGS = /%|\/\.|\/\/|;|\\/;

/**
 * Reads and checks the request head. Refuses (400) what nginx refuses and what would let the
 * matcher and the pod disagree: a fragment (`#`), NUL, a second Host, a malformed Host, an
 * absolute-form target whose authority is not the Host, a path that does not decode or climbs
 * above the root; and (501) a Transfer-Encoding other than exactly `chunked`.
 */
export function readRequestHead(req: IncomingMessage): RequestHead | HeadRejection {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') return { status: 501 };
  let hostHeader: string | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 4 || name.toLowerCase() !== 'host') continue;
    if (hostHeader !== undefined) return { status: 400 };
    hostHeader = raw[i + 1]!;
  }
  if (hostHeader !== undefined && !AUTHORITY.test(hostHeader)) return { status: 400 };

  let target = req.url ?? '/';
  let authority = hostHeader ?? '';
  if (target.indexOf('#') !== -1) return { status: 400 };
  if (target.charCodeAt(0) !== 47 /* / */) {
    // RFC 9112 §3.2.2: the authority of an absolute-form target wins over Host; we forward origin form only.
    const absolute = ABSOLUTE_FORM.exec(target);
    if (!absolute) return { status: 400 };
    const targetAuthority = absolute[1]!;
    if (targetAuthority === '' || !AUTHORITY.test(targetAuthority)) return { status: 400 };
    if (hostHeader !== undefined && hostKey(hostHeader) !== hostKey(targetAuthority)) return { status: 400 };
    authority = targetAuthority;
    target = absolute[2]!.charCodeAt(0) === 47 ? absolute[2]! : `/${absolute[2]}`;
  }
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  const path = normaliseRequestPath(rawPath);
  if (path === undefined || !path.startsWith('/')) return { status: 400 };
  if (path.indexOf('\0') !== -1) return { status: 400 };
  let otherReadings: string[] = [];
  if (NEEDS_READINGS.test(rawPath)) {
    const readings = otherReadingsOf(rawPath);
    if (readings === undefined) return { status: 400 };
    otherReadings = readings.filter((r, i) => r !== path && readings.indexOf(r) === i);
  }
  return { host: hostKey(authority), authority, rawPath, query, path, otherReadings };
}

export function isRejection(head: RequestHead | HeadRejection): head is HeadRejection {
  return 'status' in head;
}

/**
 * How other servers read a raw path, beside nginx's reading (which `normaliseRequestPath` gives):
 * - as is: routers that match the undecoded path and never resolve `..` (Express, fastify);
 * - as the WHATWG URL parser does (servers built on fetch's Request);
 * - decoded whole but not resolved (Python's WSGI `PATH_INFO`, then a router);
 * - per segment: `\` as a separator (WHATWG URL), `;parameters` dropped (Tomcat, Jetty), each
 *   segment decoded with encoded slashes kept inside it (Go's ServeMux, Spring), then dot
 *   segments resolved, `%2e` included.
 * Undefined when the last reading climbs above the root.
 */
function otherReadingsOf(raw: string): string[] | undefined {
  const readings = [raw];
  const whatwg = URL.parse(raw, 'http://reading');
  if (whatwg) readings.push(whatwg.pathname);
  try {
    readings.push(decodeURIComponent(raw));
  } catch {
    // nginx's reading decodes the same bytes and already refused them
  }
  const segments: string[] = [];
  for (const segment of raw.split(/[/\\]/)) {
    const semicolon = segment.indexOf(';');
    try {
      segments.push(decodeURIComponent((semicolon === -1 ? segment : segment.slice(0, semicolon)).replace(/%(2f|5c)/gi, '%25$1')));
    } catch {
      return undefined;
    }
  }
  const perSegment = resolveSegments(segments);
  if (perSegment === undefined) return undefined;
  readings.push(perSegment);
  return readings;
}
