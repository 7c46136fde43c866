import type { IncomingMessage } from 'node:http';
import type { RequestStep } from '../../table/steps.ts';
import type { Route, RoutingTable } from '../../table/types.ts';
import type { HeaderChanges } from '../headers.ts';
import type { RequestHead } from '../request-head.ts';
import type { StepState } from './state.ts';

/** Portico's own answer to a request: a status, headers, and a body (else the status page). */
export interface StepAnswer {
  readonly status: number;
  readonly headers?: Record<string, string> | undefined;
  readonly body?: string | undefined;
}

/** What a step sees of a request, and what it leaves for the answer or the pod. */
export interface StepContext {
  readonly req: IncomingMessage;
  readonly head: RequestHead;
  readonly route: Route;
  readonly table: RoutingTable;
  readonly proto: 'http' | 'https';
  /** HTTP listener only: the port HTTPS redirects point at. */
  readonly httpsPort: number | undefined;
  readonly clientAddress: string;
  readonly requestId: string;
  readonly state: StepState;
  /** Headers the steps add to the response or the pod's request, or drop from it. */
  readonly changes: HeaderChanges;
  /** Run once the response is over (a connection-limit slot is given back). */
  onDone: (() => void)[] | undefined;
}

export type StepOutcome = StepAnswer | undefined;

/** One step kind's behaviour; `undefined` lets the request go on. */
export type StepRunner<S extends RequestStep = RequestStep> = (step: S, context: StepContext) => StepOutcome | Promise<StepOutcome>;
