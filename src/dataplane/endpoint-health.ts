const EJECT_MIN_MS = 5_000;
const EJECT_MAX_MS = 60_000;
const WINDOW_MS = 60_000;

interface State {
  ejectedUntil: number;
  backoffMs: number;
  /** Requests and failures in the current and the previous window, for a recent error rate. */
  window: { start: number; ok: number; failed: number; previousOk: number; previousFailed: number };
}

/** An ejection, as one worker tells the others: the same endpoint leaves every worker's rotation. */
export interface Ejection {
  readonly endpoint: string;
  /** Milliseconds since the epoch (the same clock in every thread). */
  readonly until: number;
  readonly backoffMs: number;
}

export interface EndpointStats {
  ejected: boolean;
  ejectedForMs: number;
  requests: number;
  errorRate: number;
}

/**
 * Passive health: an endpoint that refuses or resets connections leaves the rotation for a
 * back-off (5 s, doubling to a minute while it keeps failing, reset by a success) and comes back
 * after. The balancer never ejects every endpoint of a backend: if all are out, all are tried.
 */
export class EndpointHealth {
  private readonly state = new Map<string, State>();
  private readonly now: () => number;
  /** Called with each ejection this process decides (not those adopted), for metrics and the other workers. */
  onEject: ((ejection: Ejection) => void) | undefined;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  private get(key: string): State {
    let s = this.state.get(key);
    if (!s) this.state.set(key, (s = { ejectedUntil: 0, backoffMs: 0, window: { start: this.now(), ok: 0, failed: 0, previousOk: 0, previousFailed: 0 } }));
    const w = s.window;
    const now = this.now();
    if (now - w.start >= WINDOW_MS) {
      const stale = now - w.start >= 2 * WINDOW_MS;
      s.window = { start: now, ok: 0, failed: 0, previousOk: stale ? 0 : w.ok, previousFailed: stale ? 0 : w.failed };
    }
    return s;
  }

  succeeded(key: string): void {
    const s = this.get(key);
    s.window.ok++;
    s.backoffMs = 0;
  }

  /**
   * A connection-level failure (refused, reset, connect timeout): eject. Failures of requests
   * that were already in flight when it was ejected do not count again: the back-off doubles
   * once per ejection, when the endpoint fails again after being readmitted.
   */
  failed(key: string): void {
    const s = this.get(key);
    s.window.failed++;
    if (s.ejectedUntil > this.now()) return;
    s.backoffMs = Math.min(s.backoffMs ? s.backoffMs * 2 : EJECT_MIN_MS, EJECT_MAX_MS);
    s.ejectedUntil = this.now() + s.backoffMs;
    this.onEject?.({ endpoint: key, until: s.ejectedUntil, backoffMs: s.backoffMs });
  }

  /** Another worker ejected the endpoint: out of rotation here too, with its back-off (not counted as a failure here). */
  adopt(ejection: Ejection): void {
    const s = this.get(ejection.endpoint);
    if (ejection.until <= s.ejectedUntil) return;
    s.ejectedUntil = ejection.until;
    s.backoffMs = Math.max(s.backoffMs, ejection.backoffMs);
  }

  isEjected(key: string): boolean {
    const s = this.state.get(key);
    return s !== undefined && s.ejectedUntil > this.now();
  }

  stats(key: string): EndpointStats {
    const s = this.get(key);
    const w = s.window;
    const requests = w.ok + w.failed + w.previousOk + w.previousFailed;
    return {
      ejected: s.ejectedUntil > this.now(),
      ejectedForMs: Math.max(0, s.ejectedUntil - this.now()),
      requests,
      errorRate: requests ? (w.failed + w.previousFailed) / requests : 0,
    };
  }

  /** Every endpoint this process has seen a request to or an ejection of. */
  allStats(): Map<string, EndpointStats> {
    return new Map([...this.state.keys()].map((key) => [key, this.stats(key)]));
  }

  /** Forgets endpoints that left the table. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.state.keys()) if (!keys.has(key)) this.state.delete(key);
  }
}
