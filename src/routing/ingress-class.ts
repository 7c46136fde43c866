import type { V1Ingress, V1IngressClass } from '@kubernetes/client-node';
import type { ObjectSnapshot } from '../snapshot.ts';

const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

export interface ClassSelection {
  /** Our controller name, matched against IngressClass `spec.controller`. */
  readonly controllerName: string;
  /** The IngressClass name we serve; also the value the legacy annotation must carry. */
  readonly ingressClass: string;
  /** `--watch-ingress-without-class`: Ingresses naming no class at all are ours too. */
  readonly watchWithoutClass?: boolean;
}

/** Decides which Ingresses are ours, once per build. */
export class IngressClassFilter {
  private readonly ours: Set<string>;
  private readonly weAreDefault: boolean;
  private readonly selection: ClassSelection;

  constructor(snapshot: ObjectSnapshot, selection: ClassSelection) {
    this.selection = selection;
    const ourClasses = [...snapshot.ingressClasses.values()].filter((c: V1IngressClass) => c.spec?.controller === selection.controllerName);
    this.ours = new Set(ourClasses.map((c) => c.metadata?.name ?? ''));
    this.weAreDefault = ourClasses.some((c) => c.metadata?.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
  }

  /**
   * `spec.ingressClassName` names one of our IngressClasses, or the legacy annotation names our
   * class or one of our IngressClasses, or no class and ours is the default (or
   * --watch-ingress-without-class).
   */
  isOurs(ingress: V1Ingress): boolean {
    const className = ingress.spec?.ingressClassName;
    if (className) return this.ours.has(className);
    // The legacy annotation carries our --ingress-class, or names an IngressClass of our controller.
    const legacy = ingress.metadata?.annotations?.[LEGACY_CLASS_ANNOTATION];
    if (legacy !== undefined) return legacy === this.selection.ingressClass || this.ours.has(legacy);
    return this.weAreDefault || this.selection.watchWithoutClass === true;
  }

  /** True when the Ingress names our class by name but no IngressClass of that name exists for our controller. */
  namesMissingClass(ingress: V1Ingress): boolean {
    return ingress.spec?.ingressClassName === this.selection.ingressClass && !this.ours.has(this.selection.ingressClass);
  }
}
