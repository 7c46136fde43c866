import type { Diagnostic, ObjectRef } from '../../diagnostics.ts';
import { guardsAccess } from './ingress-nginx-names.ts';

/**
 * Reads one Ingress's annotations for the annotation families. Both `nginx.ingress.kubernetes.io/<name>`
 * and `portico.dev/<name>` are read; ours wins. A value that cannot be used gives a diagnostic
 * naming the annotation, and the family keeps its default: an invalid value never takes a route down.
 */
export const NGINX_PREFIX = 'nginx.ingress.kubernetes.io/';
export const PORTICO_PREFIX = 'portico.dev/';

export const SECOND = 1000;
/** Positive or zero integers of at most nine digits: always exact, never a float. */
export const WHOLE_NUMBER = /^\d{1,9}$/;
/** Paths and URLs longer than this could not be sent in a request line nginx or a pod would accept. */
export const MAX_URI_LENGTH = 4096;
/** setTimeout's limit: 2^31−1 ms; a longer timer fires at once. */
export const MAX_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export interface AnnotationValue {
  /** The annotation key as written, with its prefix: the diagnostic's field. */
  readonly key: string;
  readonly value: string;
}

export class AnnotationReader {
  readonly diagnostics: Diagnostic[] = [];
  /** Why access-guarding annotations cannot be enforced: the Ingress's routes then answer 503. */
  readonly unenforced: string[] = [];
  readonly ref: ObjectRef;
  private readonly annotations: Readonly<Record<string, string>>;

  constructor(annotations: Readonly<Record<string, string>>, ref: ObjectRef) {
    this.annotations = annotations;
    this.ref = ref;
  }

  /** The raw value under either prefix, or undefined; values with CR or LF are refused (CVE-2024-7646). */
  get(name: string): AnnotationValue | undefined {
    const key = PORTICO_PREFIX + name in this.annotations ? PORTICO_PREFIX + name : NGINX_PREFIX + name;
    const value = this.annotations[key];
    if (value === undefined) return undefined;
    if (/[\r\n]/.test(value)) {
      if (guardsAccess(name)) this.failClosed(key, 'value contains a CR or LF character');
      else this.invalid(key, 'value contains a CR or LF character');
      return undefined;
    }
    return { key, value: value.trim() };
  }

  has(name: string): boolean {
    return PORTICO_PREFIX + name in this.annotations || NGINX_PREFIX + name in this.annotations;
  }

  warn(key: string, code: Diagnostic['code'], message: string): void {
    this.diagnostics.push({ severity: 'Warning', code, object: this.ref, field: `metadata.annotations[${key}]`, message });
  }

  invalid(key: string, reason: string, fallback?: string): void {
    this.warn(key, 'InvalidAnnotation', fallback === undefined ? `${reason}; ignored` : `${reason}; using the default ${fallback}`);
  }

  /**
   * An access guard whose value cannot be used: failing open would serve the backend
   * unprotected, so every path of the Ingress answers 503 instead.
   */
  failClosed(key: string, reason: string): void {
    this.warn(key, 'InvalidAnnotation', `${reason}; every path of this Ingress answers 503 until it is fixed (fail closed)`);
    this.unenforced.push(key);
  }

  bool(name: string, fallback: boolean): boolean {
    const a = this.get(name);
    if (!a) return fallback;
    const parsed = parseGoBool(a.value);
    if (parsed === undefined) {
      this.invalid(a.key, `"${quote(a.value)}" is not a boolean`, String(fallback));
      return fallback;
    }
    return parsed;
  }

  /** A whole number between `min` and `max`, or the fallback with a diagnostic. */
  wholeNumber(name: string, fallback: number, min = 0, max = 999_999_999): number {
    const a = this.get(name);
    if (!a) return fallback;
    const n = Number(a.value);
    if (!WHOLE_NUMBER.test(a.value) || n < min || n > max) {
      this.invalid(a.key, `"${quote(a.value)}" is not a whole number between ${min} and ${max}`, String(fallback));
      return fallback;
    }
    return n;
  }

  seconds(name: string, fallbackMs: number): number {
    const a = this.get(name);
    if (!a) return fallbackMs;
    if (!WHOLE_NUMBER.test(a.value) || Number(a.value) === 0) {
      this.invalid(a.key, `"${quote(a.value)}" is not a positive whole number of seconds (write "120", not "120s")`, `${fallbackMs / SECOND}`);
      return fallbackMs;
    }
    if (Number(a.value) > MAX_TIMEOUT_SECONDS) {
      this.invalid(a.key, `${a.value} seconds is more than the ${MAX_TIMEOUT_SECONDS} a timer can hold`, `${fallbackMs / SECOND}`);
      return fallbackMs;
    }
    return Number(a.value) * SECOND;
  }

  matching(name: string, format: RegExp, what: string, maxLength = MAX_URI_LENGTH): string | undefined {
    const a = this.get(name);
    if (!a) return undefined;
    if (a.value.length > maxLength) {
      this.invalid(a.key, `the value is ${a.value.length} characters long, more than ${maxLength}`);
      return undefined;
    }
    if (!format.test(a.value)) {
      this.invalid(a.key, `"${quote(a.value)}" is not ${what}`);
      return undefined;
    }
    return a.value;
  }

  /** One of a fixed set of words (case as written in ingress-nginx's docs), or the fallback. */
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const a = this.get(name);
    if (!a) return fallback;
    if (!(allowed as readonly string[]).includes(a.value)) {
      this.invalid(a.key, `"${quote(a.value)}" is not one of ${allowed.join(', ')}`, fallback);
      return fallback;
    }
    return a.value as T;
  }
}

/** A comma-separated list, items trimmed, empty items dropped. */
export function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

/** A value as a diagnostic quotes it: long values are cut, so a message stays one readable line. */
export function quote(value: string): string {
  return value.length > 100 ? `${value.slice(0, 100)}…` : value;
}

/** Go's strconv.ParseBool, which ingress-nginx uses. */
export function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}
