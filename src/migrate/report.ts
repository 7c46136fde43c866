import type { V1Ingress } from '@kubernetes/client-node';
import type { Diagnostic, ObjectRef } from '../diagnostics.ts';
import { FAMILIES, NGINX_PREFIX, parseIngressAnnotations, PORTICO_PREFIX } from '../routing/annotations/index.ts';
import { CONFIG_KEY_DIFFERENCES, INGRESS_NGINX_SERVER_SETTINGS, parseControllerConfig } from '../routing/config-map/index.ts';
import { IngressClassFilter, type ClassSelection } from '../routing/ingress-class.ts';
import type { ObjectSnapshot } from '../snapshot.ts';

/** How Portico treats one annotation or ConfigMap key of an ingress-nginx setup. */
export type Verdict = 'supported' | 'differs' | 'unsupported' | 'invalid';

export interface Finding {
  /** The annotation key (with its prefix) or the ConfigMap key. */
  readonly key: string;
  readonly verdict: Verdict;
  /** Why, in one sentence, for every verdict but `supported`. */
  readonly note?: string;
}

export interface IngressFinding {
  readonly ingress: string;
  /** `ours`: Portico serves it as it is; `change`: its class is ingress-nginx's; `other`: another controller's. */
  readonly class: 'ours' | 'change' | 'other';
  readonly annotations: readonly Finding[];
}

export interface MigrationReport {
  readonly ingresses: readonly IngressFinding[];
  /** The ingress-nginx ConfigMap read, or undefined when none was found. */
  readonly configMap: { readonly name: string; readonly keys: readonly Finding[] } | undefined;
  readonly summary: {
    readonly ingresses: number;
    readonly needClassChange: number;
    readonly annotations: Readonly<Record<Verdict, number>>;
    readonly configMapKeys: Readonly<Record<Verdict, number>>;
  };
}

export interface ReportOptions extends ClassSelection {
  /** `namespace/name` of ingress-nginx's ConfigMap (the chart's: ingress-nginx/ingress-nginx-controller). */
  readonly configMap: string;
}

/** ingress-nginx's controller and class, as its chart installs them. */
const NGINX_CONTROLLER = 'k8s.io/ingress-nginx';
const NGINX_CLASS = 'nginx';
const DIFFERENCES = new Map(FAMILIES.flatMap((f) => Object.entries(f.differences ?? {})));

/**
 * What moving these Ingresses and this ConfigMap to Portico would change, key by key. Pure, and
 * made by the same annotation families and ConfigMap reader the build uses: the report cannot
 * disagree with what Portico then does.
 */
export function migrationReport(snapshot: ObjectSnapshot, options: ReportOptions): MigrationReport {
  const ours = new IngressClassFilter(snapshot, options);
  const nginx = new IngressClassFilter(snapshot, { controllerName: NGINX_CONTROLLER, ingressClass: NGINX_CLASS });
  const ingresses: IngressFinding[] = [];
  for (const ingress of [...snapshot.ingresses.values()].sort((a, b) => nameOf(a).localeCompare(nameOf(b)))) {
    const ref: ObjectRef = { kind: 'Ingress', namespace: ingress.metadata?.namespace ?? 'default', name: ingress.metadata?.name ?? '' };
    const annotations = ingress.metadata?.annotations ?? {};
    const parsed = parseIngressAnnotations(annotations, ref, { namespace: ref.namespace!, snapshot });
    const findings = Object.keys(annotations).filter((k) => k.startsWith(NGINX_PREFIX) || k.startsWith(PORTICO_PREFIX)).sort()
      .map((key) => verdictOf(key, parsed.diagnostics.filter((d) => d.field === `metadata.annotations[${key}]`), DIFFERENCES.get(key.slice(key.indexOf('/') + 1))));
    const isOurs = ours.isOurs(ingress) || ingress.spec?.ingressClassName === options.ingressClass;
    ingresses.push({ ingress: nameOf(ingress), class: isOurs ? 'ours' : isNginxs(ingress, nginx) ? 'change' : 'other', annotations: findings });
  }
  const cm = snapshot.configMaps.get(options.configMap);
  let configMap: MigrationReport['configMap'];
  if (cm) {
    const { diagnostics } = parseControllerConfig(cm, options.configMap, INGRESS_NGINX_SERVER_SETTINGS);
    const keys = Object.keys(cm.data ?? {}).sort().map((key) => verdictOf(key, diagnostics.filter((d) => d.field === `data[${key}]`), CONFIG_KEY_DIFFERENCES[key]));
    configMap = { name: options.configMap, keys };
  }
  const count = (findings: readonly Finding[]): Record<Verdict, number> => {
    const c: Record<Verdict, number> = { supported: 0, differs: 0, unsupported: 0, invalid: 0 };
    for (const f of findings) c[f.verdict]++;
    return c;
  };
  const relevant = ingresses.filter((i) => i.class !== 'other');
  return {
    ingresses,
    configMap,
    summary: {
      ingresses: relevant.length,
      needClassChange: relevant.filter((i) => i.class === 'change').length,
      annotations: count(relevant.flatMap((i) => i.annotations)),
      configMapKeys: count(configMap?.keys ?? []),
    },
  };
}

/** The verdict on one key from the diagnostics the real parse gave it. */
function verdictOf(key: string, diagnostics: readonly Diagnostic[], difference: string | undefined): Finding {
  const d = diagnostics[0];
  if (!d) return difference ? { key, verdict: 'differs', note: difference } : { key, verdict: 'supported' };
  if (d.code === 'UnsupportedAnnotation' || d.code === 'RefusedSnippet') return { key, verdict: 'unsupported', note: d.message };
  // A ConfigMap value Portico accepts only where it means what Portico does anyway.
  if (d.code === 'UnsupportedConfigKey') return { key, verdict: d.message.includes('has no effect') ? 'differs' : 'unsupported', note: d.message };
  return { key, verdict: 'invalid', note: d.message };
}

/** An Ingress ingress-nginx serves: its class (or the legacy annotation) is ingress-nginx's, or it has none. */
function isNginxs(ingress: V1Ingress, nginx: IngressClassFilter): boolean {
  const className = ingress.spec?.ingressClassName ?? ingress.metadata?.annotations?.['kubernetes.io/ingress.class'];
  return className === undefined || className === NGINX_CLASS || nginx.isOurs(ingress);
}

function nameOf(ingress: V1Ingress): string {
  return `${ingress.metadata?.namespace ?? 'default'}/${ingress.metadata?.name ?? ''}`;
}

const LABEL: Record<Verdict, string> = { supported: 'supported  ', differs: 'differs    ', unsupported: 'unsupported', invalid: 'invalid    ' };

/** The report for a terminal. */
export function formatReport(r: MigrationReport, options: ClassSelection): string {
  const lines: string[] = [];
  const finding = (f: Finding): string => `  ${LABEL[f.verdict]} ${f.key}${f.note ? `: ${f.note}` : ''}`;
  for (const i of r.ingresses) {
    if (i.class === 'other') {
      lines.push(`Ingress ${i.ingress}: another controller's class; left alone`);
      continue;
    }
    const cls = i.class === 'ours' ? `served by Portico as it is (class ${options.ingressClass})`
      : `ingress-nginx's class: set spec.ingressClassName: ${options.ingressClass}, or run Portico with --ingress-class ${NGINX_CLASS} --controller-name ${NGINX_CONTROLLER}`;
    lines.push(`Ingress ${i.ingress}: ${cls}`);
    for (const f of i.annotations) lines.push(finding(f));
  }
  if (r.configMap) {
    lines.push(`ConfigMap ${r.configMap.name} (give it to Portico with --configmap ${r.configMap.name})`);
    for (const f of r.configMap.keys) lines.push(finding(f));
  } else {
    lines.push('ConfigMap: none found (--configmap names it)');
  }
  const s = r.summary;
  const counts = (c: Record<Verdict, number>): string => `${c.supported} supported, ${c.differs} differ, ${c.unsupported} unsupported, ${c.invalid} invalid`;
  lines.push('', `Summary: ${s.ingresses} Ingresses (${s.needClassChange} need a class change); annotations: ${counts(s.annotations)}; ConfigMap keys: ${counts(s.configMapKeys)}`);
  return `${lines.join('\n')}\n`;
}
