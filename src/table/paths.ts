/**
 * Path handling shared by build (normalising the Ingress paths) and the matcher
 * (normalising request paths the same way), so the two can never disagree.
 */

/** A Prefix path without its trailing slash: `/foo/` and `/foo` are the same prefix; `/` stays `/`. */
export function normalisePrefix(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47 /* / */) end--;
  return end === path.length ? path : path.slice(0, end);
}

/**
 * The path used for matching: percent-decoded, dot segments resolved and duplicate
 * slashes merged, as nginx's `$uri`. Returns undefined for a path that cannot be decoded
 * or that climbs above the root. The upstream still receives the raw path (unless rewritten).
 */
export function normaliseRequestPath(raw: string): string | undefined {
  // Fast path: nothing to decode or resolve, which is nearly every request.
  if (raw.indexOf('%') === -1 && raw.indexOf('/.') === -1 && raw.indexOf('//') === -1) return raw;
  let decoded: string;
  try {
    decoded = raw.indexOf('%') === -1 ? raw : decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  return resolveSegments(decoded.split('/'));
}

/**
 * Joins the segments of an absolute path (`segments[0]` is what precedes the first `/`) with
 * `.` and `..` resolved and empty segments dropped, a trailing slash kept. Undefined when the
 * path climbs above the root.
 */
export function resolveSegments(segments: readonly string[]): string | undefined {
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      if (last) out.push('');
    } else if (s === '.' || (s === '' && !last)) {
      if (last) out.push('');
    } else {
      out.push(s);
    }
  }
  return '/' + out.join('/');
}

/** Escapes a rewritten path for the request line: what decoding turned into `%`, `?`, `#` or spaces goes back to escapes. */
export function escapePath(path: string): string {
  return encodeURI(path).replace(/[?#]/g, (c) => (c === '?' ? '%3F' : '%23'));
}

/** RFC 8555 §8.3: where HTTP-01 challenge tokens are fetched; exempt from HTTPS redirects. */
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
