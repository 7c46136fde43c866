import type { V1ConfigMap } from '@kubernetes/client-node';
import type { Diagnostic, ObjectRef } from '../../diagnostics.ts';
import type { ServerSettings } from '../../table/server-settings.ts';
import { FAMILIES, SUPPORTED_ANNOTATIONS } from '../annotations/index.ts';
import { NGINX_PREFIX, AnnotationReader, quote } from '../annotations/reader.ts';
import { INGRESS_NGINX_CONFIG_KEYS } from './ingress-nginx-keys.ts';
import { defaultInstanceSettings, HSTS_DRAFT, hstsHeader, SAME_AS_PORTICO, SETTING_KEYS, type DraftWithHsts, type InstanceSettings } from './settings.ts';

export type { InstanceSettings } from './settings.ts';
export { INGRESS_NGINX_SERVER_SETTINGS } from './settings.ts';

/**
 * ConfigMap keys that set an annotation's default for every Ingress (ingress-nginx: the
 * annotation overrides the ConfigMap, the ConfigMap overrides the built-in default). The CORS
 * keys are Portico's own: ingress-nginx has no ConfigMap default for them.
 */
const ANNOTATION_DEFAULT_KEYS: readonly string[] = [
  'proxy-body-size', 'proxy-connect-timeout', 'proxy-read-timeout', 'proxy-send-timeout', 'proxy-next-upstream',
  'proxy-next-upstream-tries', 'proxy-request-buffering', 'proxy-buffering', 'proxy-buffer-size', 'proxy-buffers-number',
  'client-body-buffer-size', 'proxy-max-temp-file-size', 'ssl-redirect', 'force-ssl-redirect', 'whitelist-source-range',
  'denylist-source-range', 'custom-http-errors', 'load-balance', 'service-upstream', 'upstream-hash-by',
  'enable-cors', 'cors-allow-origin', 'cors-allow-methods', 'cors-allow-headers', 'cors-expose-headers', 'cors-allow-credentials', 'cors-max-age',
].filter((name) => SUPPORTED_ANNOTATIONS.has(name));

/** `global-auth-*`: the `auth-*` annotations of every Ingress that has no `auth-url` and does not say `enable-global-auth: "false"`. */
const GLOBAL_AUTH_KEYS: Readonly<Record<string, string>> = {
  'global-auth-url': 'auth-url', 'global-auth-method': 'auth-method', 'global-auth-signin': 'auth-signin',
  'global-auth-signin-redirect-param': 'auth-signin-redirect-param', 'global-auth-response-headers': 'auth-response-headers',
  'global-auth-request-redirect': 'auth-request-redirect', 'global-auth-cache-key': 'auth-cache-key',
  'global-auth-cache-duration': 'auth-cache-duration', 'global-auth-always-set-cookie': 'auth-always-set-cookie',
};

/** Keys whose value is nginx configuration text: never run, as the `*-snippet` annotations. */
const SNIPPET_KEYS = new Set(['main-snippet', 'http-snippet', 'server-snippet', 'stream-snippet', 'location-snippet', 'global-auth-snippet', 'modsecurity-snippet']);

/** Keys Portico implements but not quite as ingress-nginx does: the difference in one sentence. */
export const CONFIG_KEY_DIFFERENCES: Readonly<Record<string, string>> = {
  'max-worker-connections': 'limits open client connections per listener (HTTP and HTTPS each), not per nginx worker',
  'large-client-header-buffers': 'number × size limits the whole request head; nginx also limits each header line to one buffer',
  'use-forwarded-headers': 'X-Forwarded-Proto, -Host and -Port are trusted, like X-Forwarded-For, only from proxy-real-ip-cidr; ingress-nginx trusts those three from any client',
  'log-format-upstream': 'a JSON object becomes the JSON access log\'s fields; other text formats are not evaluated (--access-log nginx writes the default one)',
  'upstream-keepalive-connections': 'any number above 0 keeps connections to pods alive; Portico does not cap how many idle ones it keeps',
  'server-tokens': 'the Server header says portico, not nginx and its version',
  'proxy-buffering': 'checked but without effect: Portico streams responses and never buffers them to disk',
  'proxy-buffer-size': 'checked but without effect: Portico streams responses and never buffers them to disk',
  'proxy-buffers-number': 'checked but without effect: Portico streams responses and never buffers them to disk',
};

/** Every ConfigMap key Portico reads, for the migration report and the docs. */
export const IMPLEMENTED_CONFIG_KEYS: readonly string[] = [...Object.keys(SETTING_KEYS), ...ANNOTATION_DEFAULT_KEYS, ...Object.keys(GLOBAL_AUTH_KEYS), ...Object.keys(SAME_AS_PORTICO)].sort();

/** What the controller ConfigMap sets, validated: the instance settings and every Ingress's defaults. */
export interface ControllerConfig {
  /** `namespace/name`, or undefined without `--configmap`. */
  readonly source: string | undefined;
  readonly settings: InstanceSettings;
  /** Annotation defaults by annotation name (no prefix). */
  readonly annotationDefaults: ReadonlyMap<string, string>;
  /** `global-auth-*` as the `auth-*` annotations they stand for; empty without `global-auth-url`. */
  readonly globalAuth: ReadonlyMap<string, string>;
  /** The annotation defaults plus the global auth: the layer of Ingresses global auth applies to. */
  readonly defaultsWithGlobalAuth: ReadonlyMap<string, string>;
  /**
   * Access guards the ConfigMap asks for that cannot be enforced (a bad value and no previous
   * one), by annotation name → why: the paths of every Ingress that does not set the annotation
   * itself answer 503.
   */
  readonly unenforced: ReadonlyMap<string, string>;
  /** The raw value in use for each key (a bad value leaves the previous one here). */
  readonly inUse: ReadonlyMap<string, string>;
}

export interface ConfigResult {
  readonly config: ControllerConfig;
  readonly diagnostics: Diagnostic[];
}

/**
 * Reads the controller ConfigMap (`--configmap`). Pure. A key Portico does not implement gets a
 * Warning naming it; a bad value keeps the value `previous` used (or the default, the first
 * time) and says which; a key that guards access and cannot be used fails closed.
 */
export function parseControllerConfig(configMap: V1ConfigMap | undefined, source: string | undefined, serverDefaults: ServerSettings, previous?: ControllerConfig): ConfigResult {
  const diagnostics: Diagnostic[] = [];
  const [namespace = '', name = ''] = source?.split('/') ?? [];
  const ref: ObjectRef = { kind: 'ConfigMap', namespace, name };
  const warn = (key: string, code: Diagnostic['code'], message: string): void => {
    diagnostics.push({ severity: 'Warning', code, object: ref, field: `data[${key}]`, message });
  };
  const none = new Map<string, string>();
  const empty: ControllerConfig = { source, settings: defaultInstanceSettings(serverDefaults), annotationDefaults: none, globalAuth: none, defaultsWithGlobalAuth: none, unenforced: new Map(), inUse: new Map() };
  if (source === undefined) return { config: empty, diagnostics };
  if (!configMap) {
    diagnostics.push({ severity: 'Warning', code: 'ConfigMapNotFound', object: ref, message: `--configmap ${source} does not exist; using the built-in defaults` });
    return { config: empty, diagnostics };
  }
  const inUse = new Map<string, string>();
  const previousText = (key: string): string | undefined => {
    const value = previous?.source === source ? previous.inUse.get(key) : undefined;
    return value === undefined ? undefined : `keeping the previous value "${quote(value)}"`;
  };

  const data = configMap.data ?? {};
  const settingsValues: [string, string][] = [];
  const defaults = new Map<string, string>();
  const globalAuth = new Map<string, string>();
  for (const key of Object.keys(data).sort()) {
    const value = data[key]!.trim();
    if (/[\r\n]/.test(value)) {
      warn(key, 'InvalidConfigValue', `value contains a CR or LF character; ${previousText(key) ?? 'ignored'}`);
      if (previousText(key)) inUse.set(key, previous!.inUse.get(key)!);
      continue;
    }
    if (key in SETTING_KEYS) settingsValues.push([key, value]);
    else if (ANNOTATION_DEFAULT_KEYS.includes(key)) defaults.set(key, value);
    else if (key in GLOBAL_AUTH_KEYS) globalAuth.set(key, value);
    else if (SNIPPET_KEYS.has(key)) warn(key, 'RefusedSnippet', 'nginx configuration snippets are never run by Portico; ignored');
    else if (key in SAME_AS_PORTICO) {
      const same = SAME_AS_PORTICO[key]!;
      if (!same.value(value)) warn(key, 'UnsupportedConfigKey', `"${quote(value)}" has no effect: ${same.otherwise}`);
      else inUse.set(key, value);
    } else {
      warn(key, 'UnsupportedConfigKey', INGRESS_NGINX_CONFIG_KEYS.has(key) ? 'not supported by Portico yet; ignored' : 'not an ingress-nginx ConfigMap key; ignored');
    }
  }

  const settings = readSettings(settingsValues, serverDefaults, previous?.source === source ? previous : undefined, inUse, warn);
  const annotationDefaults = validateAnnotations(defaults, (key) => key, ref, namespace, previous, source, inUse, warn);
  if (globalAuth.size > 0 && !globalAuth.has('global-auth-url')) {
    for (const key of globalAuth.keys()) warn(key, 'InvalidConfigValue', 'global-auth-url is not set, so this has no effect');
    globalAuth.clear();
  }
  const globalAuthLayer = validateAnnotations(globalAuth, (key) => GLOBAL_AUTH_KEYS[key]!, ref, namespace, previous, source, inUse, warn);
  const unenforced = new Map([...annotationDefaults.unenforced, ...globalAuthLayer.unenforced]);
  return {
    config: {
      source, settings, annotationDefaults: annotationDefaults.layer, globalAuth: globalAuthLayer.layer, unenforced, inUse,
      defaultsWithGlobalAuth: new Map([...annotationDefaults.layer, ...globalAuthLayer.layer]),
    },
    diagnostics,
  };
}

type Warn = (key: string, code: Diagnostic['code'], message: string) => void;

/** The instance-wide keys, over the flags' defaults; a bad value falls back to the previous one. */
function readSettings(values: readonly [string, string][], serverDefaults: ServerSettings, previous: ControllerConfig | undefined, inUse: Map<string, string>, warn: Warn): InstanceSettings {
  const base = defaultInstanceSettings(serverDefaults);
  const server = serverDefaults;
  const draft: DraftWithHsts = {
    ...base,
    server: { ...server, clientAddress: { ...server.clientAddress }, listener: { ...server.listener }, upstreamKeepalive: { ...server.upstreamKeepalive }, tlsVersions: { ...server.tlsVersions } },
    [HSTS_DRAFT]: hstsOf(server.hstsHeader),
  };
  for (const [key, value] of values) {
    const problem = SETTING_KEYS[key]!.read(value, draft);
    if (problem === undefined) {
      inUse.set(key, value);
      continue;
    }
    const before = previous?.inUse.get(key);
    if (before !== undefined && SETTING_KEYS[key]!.read(before, draft) === undefined) {
      inUse.set(key, before);
      warn(key, 'InvalidConfigValue', `${problem}; keeping the previous value "${quote(before)}"`);
    } else {
      warn(key, 'InvalidConfigValue', `${problem}; using the default`);
    }
  }
  // nginx.tmpl: use-forwarded-headers takes the client address from forwarded-for-header too.
  if (draft.server.clientAddress.forwardedHeaders) draft.server.clientAddress.realIp = true;
  const { [HSTS_DRAFT]: hsts, ...settings } = draft;
  settings.server.hstsHeader = hstsHeader(hsts);
  return settings;
}

function hstsOf(header: string | undefined): DraftWithHsts[typeof HSTS_DRAFT] {
  const maxAge = /max-age=(\d+)/.exec(header ?? '');
  return { enabled: header !== undefined, maxAge: maxAge ? Number(maxAge[1]) : 31_536_000, includeSubdomains: header === undefined || header.includes('includeSubDomains'), preload: header?.includes('preload') ?? false };
}

/**
 * Validates ConfigMap values that stand for annotations by running the annotation families on
 * them, so a ConfigMap value means exactly what the annotation means. Bad values keep the
 * previous value or are dropped; a bad access guard without a previous value fails closed.
 */
function validateAnnotations(
  values: ReadonlyMap<string, string>, annotationOf: (key: string) => string, ref: ObjectRef, namespace: string,
  previous: ControllerConfig | undefined, source: string, inUse: Map<string, string>, warn: Warn,
): { layer: Map<string, string>; unenforced: Map<string, string> } {
  const keyOf = new Map<string, string>();
  const annotations: Record<string, string> = {};
  for (const [key, value] of values) {
    keyOf.set(NGINX_PREFIX + annotationOf(key), key);
    annotations[NGINX_PREFIX + annotationOf(key)] = value;
  }
  const before = (key: string): string | undefined => (previous?.source === source ? previous.inUse.get(key) : undefined);
  const configKey = (annotationKey: string): string => keyOf.get(annotationKey) ?? annotationKey;
  const read = new AnnotationReader(annotations, ref, {
    field: (key) => `data[${configKey(key)}]`,
    invalidCode: 'InvalidConfigValue',
    fallback: (key, text) => {
      const kept = before(configKey(key));
      if (kept !== undefined) return `keeping the previous value "${quote(kept)}"`;
      return text === undefined ? 'ignored' : `using the default ${text}`;
    },
    failClosed: (key) => (before(configKey(key)) !== undefined
      ? `keeping the previous value "${quote(before(configKey(key))!)}"`
      : 'every path of every Ingress that does not set this annotation itself answers 503 until it is fixed (fail closed)'),
  });
  for (const family of FAMILIES) family.parse(read, { namespace, snapshot: undefined });
  for (const d of read.diagnostics) warn(d.field!.slice('data['.length, -1), d.code, d.message);
  const bad = new Set(read.invalidKeys.map(configKey));
  const unenforced = new Map<string, string>();
  const layer = new Map<string, string>();
  for (const [key, value] of values) {
    const annotation = annotationOf(key);
    if (!bad.has(key)) {
      layer.set(annotation, value);
      inUse.set(key, value);
      continue;
    }
    const kept = before(key);
    if (kept !== undefined) {
      layer.set(annotation, kept);
      inUse.set(key, kept);
    } else if (read.unenforced.includes(NGINX_PREFIX + annotation)) {
      unenforced.set(annotation, `ConfigMap ${ref.namespace}/${ref.name} data[${key}]`);
    }
  }
  return { layer, unenforced };
}
