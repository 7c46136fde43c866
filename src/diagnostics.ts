/** The object a diagnostic is about, as Kubernetes names it (an Event's involvedObject). */
export interface ObjectRef {
  kind: string;
  namespace?: string;
  name: string;
}

/**
 * Stable codes: logs, Events, metrics and tests key on these, so never rename one.
 * Each names the reason a piece of input was refused or defaulted.
 */
export type DiagnosticCode =
  | 'InvalidAnnotation'
  | 'UnsupportedAnnotation'
  | 'InvalidPath'
  | 'InvalidHost'
  | 'PathConflict'
  | 'DefaultBackendConflict'
  | 'ServiceNotFound'
  | 'ServicePortNotFound'
  | 'UnsupportedServiceType'
  | 'IngressClassNotFound'
  | 'InvalidBackend'
  | 'MalformedObject'
  | 'InvalidTLS'
  | 'InvalidTLSSecret'
  | 'InvalidAuthSecret'
  | 'RefusedSnippet'
  | 'ManifestParseError'
  | 'InvalidConfigValue'
  | 'UnsupportedConfigKey'
  | 'ConfigMapNotFound'
  // Gateway API
  | 'UnsupportedGatewayFeature'
  | 'InvalidRouteParent'
  | 'RefNotPermitted'
  | 'InvalidRouteMatch'
  | 'InvalidTimeout'
  | 'HostConflict';

export interface Diagnostic {
  severity: 'Warning' | 'Normal';
  code: DiagnosticCode;
  object: ObjectRef;
  /** The field the diagnostic is about, e.g. `metadata.annotations[nginx.ingress.kubernetes.io/proxy-body-size]`. */
  field?: string;
  message: string;
  /**
   * The problem takes part of the object out of service as written (an access guard failing
   * closed, a refused snippet, a path refused or lost to a conflict): the admission webhook
   * refuses such an object; other diagnostics come back as warnings.
   */
  blocks?: boolean;
}

export function formatObject(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}

export function formatDiagnostic(d: Diagnostic): string {
  const field = d.field ? ` ${d.field}` : '';
  return `${d.code}: ${formatObject(d.object)}${field}: ${d.message}`;
}
