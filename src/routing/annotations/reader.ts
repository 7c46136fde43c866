import type { Diagnostic, ObjectRef } from '../../diagnostics.ts';
import { guardsAccess } from './ingress-nginx-names.ts';
import { MAX_TIMER_MS } from '../../table/types.ts';

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
/** The longest whole number of seconds a timer can hold. */
export const MAX_TIMEOUT_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

export interface AnnotationValue {
  /** The annotation key as written, with its prefix: the diagnostic's field. */
  readonly key: string;
  readonly value: string;
}

export interface ReaderOptions {
  /**
   * The controller ConfigMap's values by annotation name (validated already): what an Ingress
   * without the annotation, or with an unusable one, gets instead of the built-in default.
   */
  readonly layer?: ReadonlyMap<string, string> | undefined;
  /** The diagnostic's field for a key; `metadata.annotations[key]` by default. */
  readonly field?: (key: string) => string;
  /** What a diagnostic says is used instead of an unusable value (`text`: the family's default, or undefined). */
  readonly fallback?: (key: string, text: string | undefined) => string;
  /** What a diagnostic says happens when an access guard cannot be used; the Ingress's paths answer 503 by default. */
  readonly failClosed?: (key: string) => string;
  /** The code of a diagnostic about an unusable value; InvalidAnnotation by default. */
  readonly invalidCode?: Diagnostic['code'];
}

export class AnnotationReader {
  readonly diagnostics: Diagnostic[] = [];
  /** Why access-guarding annotations cannot be enforced: the Ingress's routes then answer 503. */
  readonly unenforced: string[] = [];
  /** Annotation keys whose value was unusable (the family then parses again without them, to take the ConfigMap's). */
  readonly invalidKeys: string[] = [];
  readonly ref: ObjectRef;
  private readonly annotations: Readonly<Record<string, string>>;
  /**
   * Annotation name → the key it is written under (ours wins over ingress-nginx's). Built from the
   * Ingress's few keys, so a family asking for a name it does not have costs one Map lookup.
   */
  private readonly keys = new Map<string, string>();
  private readonly options: ReaderOptions;

  constructor(annotations: Readonly<Record<string, string>>, ref: ObjectRef, options: ReaderOptions = {}) {
    this.annotations = annotations;
    for (const key of Object.keys(annotations)) {
      if (key.startsWith(PORTICO_PREFIX)) this.keys.set(key.slice(PORTICO_PREFIX.length), key);
      else if (key.startsWith(NGINX_PREFIX) && !this.keys.has(key.slice(NGINX_PREFIX.length))) this.keys.set(key.slice(NGINX_PREFIX.length), key);
    }
    this.ref = ref;
    this.options = options;
  }

  /** A reader of the same annotations minus `keys`, reporting nothing: the second parse of a family. */
  without(keys: readonly string[]): AnnotationReader {
    const annotations = { ...this.annotations };
    for (const key of keys) delete annotations[key];
    return new AnnotationReader(annotations, this.ref, { layer: this.options.layer });
  }

  /** The ConfigMap's value for `name`, if the ConfigMap sets one. */
  layerValue(name: string): string | undefined {
    return this.options.layer?.get(name);
  }

  /**
   * The value under either prefix, else the ConfigMap's, else undefined; values with CR or LF are
   * refused (CVE-2024-7646).
   */
  get(name: string): AnnotationValue | undefined {
    const written = this.keys.get(name);
    const key = written ?? NGINX_PREFIX + name;
    const value = (written === undefined ? undefined : this.annotations[written]) ?? this.options.layer?.get(name);
    if (value === undefined) return undefined;
    if (/[\r\n]/.test(value)) {
      if (guardsAccess(name)) this.failClosed(key, 'value contains a CR or LF character');
      else this.invalid(key, 'value contains a CR or LF character');
      return undefined;
    }
    return { key, value: value.trim() };
  }

  /** Set on the Ingress, or by the ConfigMap. */
  has(name: string): boolean {
    return this.keys.has(name) || this.options.layer?.has(name) === true;
  }

  /** `blocks`: the problem takes the Ingress's paths out of service (see Diagnostic.blocks). */
  warn(key: string, code: Diagnostic['code'], message: string, blocks = false): void {
    const field = this.options.field ? this.options.field(key) : `metadata.annotations[${key}]`;
    this.diagnostics.push({ severity: 'Warning', code, object: this.ref, field, message, ...(blocks ? { blocks } : {}) });
  }

  invalid(key: string, reason: string, fallback?: string): void {
    this.invalidKeys.push(key);
    this.warn(key, this.options.invalidCode ?? 'InvalidAnnotation', `${reason}; ${this.fallbackText(key, fallback)}`);
  }

  private fallbackText(key: string, fallback: string | undefined): string {
    if (this.options.fallback) return this.options.fallback(key, fallback);
    const name = key.startsWith(PORTICO_PREFIX) ? key.slice(PORTICO_PREFIX.length) : key.slice(NGINX_PREFIX.length);
    const configured = key in this.annotations ? this.options.layer?.get(name) : undefined;
    if (configured !== undefined) return `using the ConfigMap's value "${quote(configured)}"`;
    return fallback === undefined ? 'ignored' : `using the default ${fallback}`;
  }

  /**
   * An access guard whose value cannot be used: failing open would serve the backend
   * unprotected, so every path of the Ingress answers 503 instead.
   */
  failClosed(key: string, reason: string): void {
    this.invalidKeys.push(key);
    this.warn(key, this.options.invalidCode ?? 'InvalidAnnotation', `${reason}; ${this.options.failClosed?.(key) ?? 'every path of this Ingress answers 503 until it is fixed (fail closed)'}`, true);
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
