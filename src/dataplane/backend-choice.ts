import type { IncomingMessage } from 'node:http';
import { parseCookie } from 'cookie';
import type { GatewayHeaderChange } from '../table/steps.ts';
import type { Backend, Balancing, CanaryRules, Route, WeightedBackend } from '../table/types.ts';
import { token } from './hashing.ts';

export interface ChosenBackend {
  readonly backend: Backend;
  /** The canary Ingress's backend was chosen (the `canary` label of the request metrics). */
  readonly canary: boolean;
  /** How its endpoints are picked: the route's settings, or the canary Ingress's own. */
  readonly balancing: Balancing;
  /** An HTTPRoute backendRef that did not resolve was drawn: the request gets 500. */
  readonly unresolved?: true;
  /** The drawn HTTPRoute backendRef's own RequestHeaderModifier. */
  readonly requestHeaders?: GatewayHeaderChange | undefined;
}

/** The value of one cookie of the request, or undefined. */
export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined || !header.includes(name)) return undefined;
  return parseCookie(header)[name];
}

const backendTokens = new WeakMap<Backend, string>();

/** The affinity cookie's second half: which backend the pin belongs to (a canary's or the main one); hashed once per backend. */
export function backendToken(backend: Backend): string {
  let t = backendTokens.get(backend);
  if (t === undefined) backendTokens.set(backend, (t = token(backend.id).slice(0, 8)));
  return t;
}

/** The backend an affinity cookie pins the client to, when it is this one. */
function pinnedTo(req: IncomingMessage, balancing: Balancing, backend: Backend): boolean {
  const affinity = balancing.affinity;
  if (!affinity || affinity.canaryBehavior !== 'sticky') return false;
  const cookie = cookieOf(req, affinity.name);
  const bar = cookie?.indexOf('|') ?? -1;
  return bar !== -1 && cookie!.slice(bar + 1) === backendToken(backend);
}

/** ingress-nginx's balancer.lua: the header rule, then the cookie rule, then the weight. */
function toCanary(rules: CanaryRules, req: IncomingMessage, random: () => number): boolean {
  if (rules.header !== undefined) {
    const value = req.headers[rules.header];
    if (typeof value === 'string') {
      if (rules.headerValue !== undefined) {
        if (value === rules.headerValue) return true;
      } else if (rules.headerPattern !== undefined) {
        if (rules.headerPattern.test(value)) return true;
      } else if (value === 'always') {
        return true;
      } else if (value === 'never') {
        return false;
      }
    }
  }
  if (rules.cookie !== undefined) {
    const value = cookieOf(req, rules.cookie);
    if (value === 'always') return true;
    if (value === 'never') return false;
  }
  // Lua's math.random(total) is 1…total.
  return Math.floor(random() * rules.weightTotal) + 1 <= rules.weight;
}

/** The backend this request of the route goes to. */
export function chooseBackend(route: Route, req: IncomingMessage, random: () => number = Math.random): ChosenBackend {
  const choice = route.choice;
  const main: ChosenBackend = { backend: route.backend, canary: false, balancing: route.options };
  if (choice.kind === 'weighted') return byWeight(choice, route, random);
  if (choice.kind !== 'canary') return main;
  const canary: ChosenBackend = { backend: choice.canary, canary: true, balancing: choice.balancing };
  // affinity-canary-behavior sticky (the default): a client pinned to either side stays there.
  if (pinnedTo(req, choice.balancing, choice.canary)) return canary;
  if (pinnedTo(req, route.options, route.backend)) return main;
  return toCanary(choice.rules, req, random) ? canary : main;
}

/** HTTPRoute backendRefs: one drawn in proportion to its weight (all weights 0: none, so 500). */
function byWeight(choice: Extract<Route['choice'], { kind: 'weighted' }>, route: Route, random: () => number): ChosenBackend {
  let n = random() * choice.total;
  let drawn: WeightedBackend | undefined;
  for (const entry of choice.backends) {
    n -= entry.weight;
    if (n < 0) {
      drawn = entry;
      break;
    }
  }
  return drawn?.backend
    ? { backend: drawn.backend, canary: false, balancing: route.options, requestHeaders: drawn.requestHeaders }
    : { backend: route.backend, canary: false, balancing: route.options, unresolved: true };
}
