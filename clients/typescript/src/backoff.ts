// Reconnection delays: exponential growth with jitter, never below the
// server's `retry:` time, starting over after a healthy connection.

export interface BackoffOptions {
  /** The first delay (default 1000 ms). */
  initialMs?: number;
  /** The longest delay (default 30000 ms). */
  maxMs?: number;
  /** How much each failed attempt multiplies the delay (default 2). */
  factor?: number;
  /**
   * How much of each delay is random, 0 to 1 (default 0.5: a delay is between
   * half and all of the exponential value), so that many clients cut off at
   * once do not come back at once.
   */
  jitter?: number;
  /**
   * A connection that stayed open this long counts as healthy: the next
   * failure starts again from `initialMs` (default 10000 ms).
   */
  resetAfterMs?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  initialMs: 1000,
  maxMs: 30000,
  factor: 2,
  jitter: 0.5,
  resetAfterMs: 10000,
};

export class Backoff {
  private readonly options: Required<BackoffOptions>;
  private attempt = 0;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    const o = { ...DEFAULT_BACKOFF, ...stripUndefined(options) };
    o.initialMs = Math.max(0, o.initialMs);
    o.maxMs = Math.max(o.initialMs, o.maxMs);
    o.factor = Math.max(1, o.factor);
    o.jitter = Math.min(1, Math.max(0, o.jitter));
    this.options = o;
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  get resetAfterMs(): number {
    return this.options.resetAfterMs;
  }

  /** The delay before the next attempt (and counts this attempt); at least `minMs`. */
  next(minMs = 0): number {
    const { initialMs, maxMs, factor, jitter } = this.options;
    const base = Math.min(maxMs, initialMs * Math.pow(factor, this.attempt));
    this.attempt++;
    const delay = base * (1 - jitter * this.random());
    return Math.round(Math.max(delay, minMs));
  }

  /** After a healthy connection: the next delay is the first one again. */
  reset(): void {
    this.attempt = 0;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
