import type { ObjectSnapshot } from '../../snapshot.ts';
import type { CanaryRules, RouteOptions } from '../../table/types.ts';
import type { RequestStep } from '../../table/steps.ts';
import type { AnnotationReader } from './reader.ts';
import type { ControllerConfig } from '../config-map/index.ts';

/** Settings that apply to the whole host the Ingress's rules name (ingress-nginx's server block). */
export interface HostSettings {
  /** `use-regex` or a valid `rewrite-target`: every path of the host is a regex (ingress-nginx). */
  readonly regexMode: boolean;
  /** `app-root`: `/` answers 302 there, before any path matching. */
  readonly appRoot: string | undefined;
  /** `server-alias`: more names answered by the same routes. */
  readonly serverAliases: readonly string[];
  /** `from-to-www-redirect`: the name with `www.` added or removed redirects here. */
  readonly fromToWwwRedirect: boolean;
}

/** Settings that change how a backend is resolved. */
export interface BackendSettings {
  /** `service-upstream`: send to the Service's cluster IP instead of the pod endpoints. */
  readonly serviceUpstream: boolean;
  /** `canary: "true"`: the Ingress's backends are alternatives for another Ingress's paths. */
  readonly canary: CanaryRules | undefined;
  /** `default-backend`: a Service name in the Ingress's namespace, resolved by build. */
  readonly defaultBackendService: string | undefined;
}

/** Everything Portico reads from one Ingress's annotations, by where it acts. */
export interface IngressSettings {
  readonly route: RouteOptions;
  readonly host: HostSettings;
  readonly backend: BackendSettings;
}

export interface SettingsPart {
  readonly route?: Partial<RouteOptions>;
  readonly host?: Partial<HostSettings>;
  readonly backend?: Partial<BackendSettings>;
}

/** What a family may look at besides the annotations: the Ingress's namespace and the objects it refers to. */
export interface ParseContext {
  readonly namespace: string;
  readonly snapshot: ObjectSnapshot | undefined;
  /** The controller ConfigMap, read: defaults under the annotations, limit status codes. */
  readonly config?: ControllerConfig | undefined;
}

/**
 * One family of ingress-nginx annotations (Traefik's one `buildX` per family): the names it
 * owns, its parse into typed settings, how /debug/routes shows it and the request step it needs.
 * Its defaults are what `parse` gives for an Ingress without its annotations. Everything else
 * (the supported list, the defaults, the debug view) is derived from the registry of families.
 */
export interface AnnotationFamily {
  readonly name: string;
  /** Annotation names without prefix. */
  readonly annotations: readonly string[];
  /** Where the settings act: every path of the Ingress, the whole host, or the backend. */
  readonly scope: 'route' | 'host' | 'backend';
  parse(read: AnnotationReader, context: ParseContext): SettingsPart;
  /**
   * Annotations of the family that Portico reads but acts on differently from ingress-nginx,
   * with the difference in one sentence (the migration report shows it).
   */
  readonly differences?: Readonly<Record<string, string>>;
  /** The family's route options as /debug/routes shows them. */
  describe?(options: RouteOptions): Record<string, unknown>;
  /** The step the route needs for these options, if any. */
  step?(options: RouteOptions): RequestStep | undefined;
}
