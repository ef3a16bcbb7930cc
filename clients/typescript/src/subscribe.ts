// A subscription to one of an app's realtime topics: a server-sent event
// stream from GET /_picloud/realtime/topics/<topic>, read through fetch (so
// the token travels in the Authorization header, never in the URL) and kept
// alive across failures.
//
// What it does with what the server says:
// - 200 text/event-stream: open; messages go to onMessage, `event: reset` to
//   onReset (the stream goes on), `event: close` ends the connection:
//   token_expired → a fresh token from getToken and back at once;
//   shutdown, too_slow, topic_changed → back after a backoff, resuming;
//   topic_deleted → the subscription ends.
// - 401 → getToken and again (without getToken: the subscription ends);
//   404 and other 4xx → the subscription ends with the error;
//   408, 429, 5xx, network failures, a stream that ends or goes silent for
//   2.5 heartbeats → back after a backoff (never shorter than the server's
//   `retry:` or Retry-After), resuming with Last-Event-ID.
// - close() or the signal: stops at once, never reconnects.

import { Backoff, type BackoffOptions } from "./backoff.js";
import { NetworkError, PiCloudError, errorFromResponse, isPiCloudError } from "./errors.js";
import { joinUrl, type FetchLike } from "./http.js";
import { SseParser, type SseEvent } from "./sse.js";
import { tokenExpiresWithin } from "./token.js";

export type SubscriptionState = "connecting" | "open" | "reconnecting" | "closed";

/** One message published to the topic. */
export interface TopicMessage<T = unknown> {
  topic: string;
  /** What the script published (any JSON value). */
  message: T;
  /** When it was published, in ms since the epoch. */
  publishedAt: number;
  /** The event id: a decimal string, increasing per topic. */
  id: string;
}

/** The server could not replay what was missed: reload the state the topic's messages update. */
export interface ResetInfo {
  topic: string;
  /** "too_old" (the missed events are no longer kept) or "unknown" (the id is not the server's). */
  reason: string;
  /** The newest event id at the time of the reset. */
  latestId: string;
}

export interface CloseInfo {
  /**
   * "closed": close() or the signal; "topic_deleted": the topic was deleted;
   * "error": a failure that retrying cannot fix (`error` says which).
   */
  reason: "closed" | "topic_deleted" | "error";
  error?: PiCloudError;
}

export interface ErrorInfo {
  /** When a reconnection follows this error: in how many ms; null when none does (see onClose). */
  reconnectInMs: number | null;
}

export interface SubscribeOptions {
  /** The token to send (Authorization: Bearer). Public topics need none. */
  token?: string;
  /**
   * Gets a token: before the first connection when `token` is not given,
   * when the token is about to expire, after a 401, and when the server
   * closes the stream with token_expired. Typically calls an app route whose
   * script answers realtime::token(...).
   */
  getToken?: () => string | Promise<string>;
  /** Resume after this event id (Last-Event-ID) on the first connection. */
  lastEventId?: string;
  /** Each time a connection is open (the first and every reconnection). */
  onOpen?: () => void;
  /** Each failure: a reconnection follows, or the subscription ends (then onClose follows). */
  onError?: (error: PiCloudError, info: ErrorInfo) => void;
  /** The server cannot replay what was missed; the stream goes on live. */
  onReset?: (info: ResetInfo) => void;
  /** Once, when the subscription has ended for good. */
  onClose?: (info: CloseInfo) => void;
  /** Reconnection delays. */
  backoff?: BackoffOptions;
  /** Closes the subscription when it fires. */
  signal?: AbortSignal;
  /**
   * The server's heartbeat interval (default 30000 ms): a stream silent for
   * 2.5 times this long is taken as dead and reconnected. 0 turns that off.
   */
  heartbeatMs?: number;
  /** Get a new token before connecting when the current one expires within this many ms (default 5000). */
  refreshMarginMs?: number;
  /** After this many 401s in a row, each with a fresh token, give up (default 5). */
  maxAuthFailures?: number;
}

export interface Subscription {
  /** Stops at once: aborts the connection, cancels a pending reconnection, calls onClose. */
  close(): void;
  /** The id of the last event received, sent as Last-Event-ID when reconnecting. */
  readonly lastEventId: string | undefined;
  readonly state: SubscriptionState;
}

export interface StreamTransport {
  baseUrl: string;
  fetch: FetchLike;
  headers: () => Record<string, string>;
}

/** The path of a topic's event stream. */
export function topicPath(topic: string): string {
  return `/_picloud/realtime/topics/${encodeURIComponent(topic)}`;
}

type Outcome =
  | { kind: "retry"; error?: PiCloudError; minDelayMs?: number; immediate?: boolean }
  | { kind: "stop"; info: CloseInfo };

const DECIMAL = /^[0-9]+$/;

/** a > b for decimal id strings of any length. */
function decimalGreater(a: string, b: string): boolean {
  const x = a.replace(/^0+(?=.)/, "");
  const y = b.replace(/^0+(?=.)/, "");
  return x.length !== y.length ? x.length > y.length : x > y;
}

function retryAfterMs(value: string | null): number {
  if (!value) return 0;
  if (/^\s*[0-9]+\s*$/.test(value)) return parseInt(value, 10) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now());
}

/** Calls a user callback; what it throws surfaces as an uncaught error without breaking the stream. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    setTimeout(() => {
      throw e;
    }, 0);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

class TopicSubscription<T> implements Subscription {
  private currentState: SubscriptionState = "connecting";
  private lastId: string;
  private finished = false;
  private controller: AbortController | undefined;
  private wake: (() => void) | undefined;
  private sleepTimer: ReturnType<typeof setTimeout> | undefined;
  private token: string | undefined;
  private needFreshToken = false;
  private authFailures = 0;
  private serverRetryMs = 0;
  private readonly backoff: Backoff;
  /** The newest message id delivered: an older or equal one is not delivered again. */
  private watermark: string | undefined;
  private readonly onSignalAbort = () => this.finish({ reason: "closed" });

  constructor(
    private readonly transport: StreamTransport,
    private readonly topic: string,
    private readonly onMessage: (message: TopicMessage<T>) => void,
    private readonly options: SubscribeOptions,
  ) {
    this.lastId = options.lastEventId ?? "";
    this.watermark = options.lastEventId || undefined;
    this.token = options.token || undefined;
    this.backoff = new Backoff(options.backoff);
    if (options.signal?.aborted) {
      // Ended before it began; onClose still comes, after the caller has the object.
      this.finished = true;
      this.currentState = "closed";
      queueMicrotask(() => safely(() => this.options.onClose?.({ reason: "closed" })));
      return;
    }
    options.signal?.addEventListener("abort", this.onSignalAbort, { once: true });
    void this.run();
  }

  get state(): SubscriptionState {
    return this.currentState;
  }

  get lastEventId(): string | undefined {
    return this.lastId || undefined;
  }

  close(): void {
    this.finish({ reason: "closed" });
  }

  private finish(info: CloseInfo): void {
    if (this.finished) return;
    this.finished = true;
    this.currentState = "closed";
    this.options.signal?.removeEventListener("abort", this.onSignalAbort);
    this.controller?.abort();
    if (this.sleepTimer !== undefined) clearTimeout(this.sleepTimer);
    this.wake?.();
    safely(() => this.options.onClose?.(info));
  }

  private async run(): Promise<void> {
    while (!this.finished) {
      let outcome: Outcome;
      try {
        outcome = await this.connectOnce();
      } catch (e) {
        // Not expected: connectOnce maps every failure. Keep going rather than die silently.
        outcome = {
          kind: "retry",
          error: isPiCloudError(e) ? e : new PiCloudError({ kind: "protocol", message: String(e), cause: e }),
        };
      }
      if (this.finished) return;
      if (outcome.kind === "stop") {
        const error = outcome.info.error;
        if (error) safely(() => this.options.onError?.(error, { reconnectInMs: null }));
        this.finish(outcome.info);
        return;
      }
      let delay: number;
      if (outcome.immediate && this.backoff.attempts === 0) {
        this.backoff.next(); // an immediate retry counts: the next failure waits
        delay = 0;
      } else {
        delay = this.backoff.next(Math.max(this.serverRetryMs, outcome.minDelayMs ?? 0));
      }
      this.currentState = "reconnecting";
      const error = outcome.error;
      if (error) safely(() => this.options.onError?.(error, { reconnectInMs: delay }));
      if (this.finished) return;
      await this.sleep(delay);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (ms <= 0 || this.finished) return resolve();
      this.wake = resolve;
      this.sleepTimer = setTimeout(() => {
        this.sleepTimer = undefined;
        this.wake = undefined;
        resolve();
      }, ms);
    });
  }

  private async obtainToken(): Promise<Outcome | undefined> {
    const getToken = this.options.getToken;
    if (!getToken) return undefined;
    const margin = this.options.refreshMarginMs ?? 5000;
    if (!this.needFreshToken && this.token && !tokenExpiresWithin(this.token, margin)) return undefined;
    try {
      const token = await getToken();
      if (typeof token !== "string" || !token) throw new Error("getToken returned no token");
      this.token = token;
      this.needFreshToken = false;
      return undefined;
    } catch (cause) {
      const error =
        isPiCloudError(cause) && cause.kind !== "aborted"
          ? cause
          : new PiCloudError({
              kind: "token",
              code: "get_token_failed",
              message: `getToken failed: ${cause instanceof Error ? cause.message : String(cause)}`,
              cause,
            });
      // A 4xx from the app's token route (signed out, forbidden) will not pass by retrying.
      if (error.kind === "client" && error.status !== 408 && error.status !== 429) {
        return { kind: "stop", info: { reason: "error", error } };
      }
      return { kind: "retry", error };
    }
  }

  private async connectOnce(): Promise<Outcome> {
    const tokenOutcome = await this.obtainToken();
    if (tokenOutcome) return tokenOutcome;
    if (this.finished) return { kind: "stop", info: { reason: "closed" } };

    const controller = new AbortController();
    this.controller = controller;
    const heartbeatMs = this.options.heartbeatMs ?? 30000;
    const silenceMs = heartbeatMs > 0 ? Math.round(heartbeatMs * 2.5) : 0;
    let silent = false;
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const feedWatchdog = () => {
      if (!silenceMs) return;
      if (watchdog !== undefined) clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        silent = true;
        controller.abort();
      }, silenceMs);
    };
    const silenceError = () =>
      new NetworkError({ code: "stream_silent", message: `${this.what()}: nothing received for ${silenceMs} ms` });

    try {
      const headers: Record<string, string> = { ...this.transport.headers(), Accept: "text/event-stream" };
      if (this.token) headers["Authorization"] = `Bearer ${this.token}`;
      if (this.lastId) headers["Last-Event-ID"] = this.lastId;
      feedWatchdog();
      let res: Response;
      try {
        res = await this.transport.fetch(joinUrl(this.transport.baseUrl, topicPath(this.topic)), {
          method: "GET",
          headers,
          signal: controller.signal,
        });
      } catch (cause) {
        if (this.finished) return { kind: "stop", info: { reason: "closed" } };
        if (silent) return { kind: "retry", error: silenceError() };
        return { kind: "retry", error: this.networkError(cause) };
      }
      if (this.finished) {
        void res.body?.cancel().catch(() => {});
        return { kind: "stop", info: { reason: "closed" } };
      }
      const contentType = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      if (res.status !== 200 || contentType !== "text/event-stream") {
        return await this.refusal(res, contentType);
      }
      return await this.readStream(res, feedWatchdog, () => silent, silenceError);
    } finally {
      if (watchdog !== undefined) clearTimeout(watchdog);
      controller.abort(); // frees the connection whatever happened
      if (this.controller === controller) this.controller = undefined;
    }
  }

  private what(): string {
    return `subscribe ${this.topic}`;
  }

  private networkError(cause: unknown): PiCloudError {
    if (isPiCloudError(cause)) return cause;
    let message = cause instanceof Error ? cause.message : String(cause);
    const inner = cause instanceof Error ? (cause as { cause?: unknown }).cause : undefined;
    if (inner instanceof Error && inner.message && inner.message !== message) message += ` (${inner.message})`;
    return new NetworkError({ message: `${this.what()}: ${message}`, cause });
  }

  /** A non-200 answer, or a 200 that is not an event stream. */
  private async refusal(res: Response, contentType: string): Promise<Outcome> {
    let text = "";
    try {
      text = await res.text();
    } catch {
      // The body is only used for the error's message.
    }
    const requestId = res.headers.get("x-request-id") ?? undefined;
    if (res.status >= 200 && res.status < 300) {
      const error = new PiCloudError({
        kind: "protocol",
        code: "not_event_stream",
        status: res.status,
        message: `${this.what()}: the answer is ${contentType || "untyped"}, not text/event-stream`,
        requestId,
        body: text,
      });
      return { kind: "retry", error };
    }
    const body = contentType === "application/json" || contentType.endsWith("+json") ? parseJson(text) ?? text : text;
    const error = errorFromResponse(res.status, res.statusText, body === "" ? undefined : body, requestId);
    const status = res.status;
    if (status === 401) {
      if (!this.options.getToken) return { kind: "stop", info: { reason: "error", error } };
      this.authFailures++;
      if (this.authFailures > (this.options.maxAuthFailures ?? 5)) return { kind: "stop", info: { reason: "error", error } };
      this.needFreshToken = true;
      return { kind: "retry", error, immediate: true };
    }
    if (status === 408 || status === 429 || status >= 500) {
      return { kind: "retry", error, minDelayMs: retryAfterMs(res.headers.get("retry-after")) };
    }
    if (status >= 400) return { kind: "stop", info: { reason: "error", error } };
    return { kind: "retry", error }; // 1xx/3xx that fetch did not handle
  }

  private async readStream(
    res: Response,
    feedWatchdog: () => void,
    wasSilent: () => boolean,
    silenceError: () => PiCloudError,
  ): Promise<Outcome> {
    if (!res.body) {
      return {
        kind: "retry",
        error: new PiCloudError({ kind: "protocol", code: "no_body", message: `${this.what()}: the answer has no body` }),
      };
    }
    this.currentState = "open";
    this.authFailures = 0;
    const openedAt = Date.now();
    let delivered = false;
    safely(() => this.options.onOpen?.());

    let outcome: Outcome | undefined;
    const parser = new SseParser(
      {
        onEvent: (event) => {
          if (outcome || this.finished) return;
          const result = this.handleEvent(event);
          if (result === "delivered") delivered = true;
          else if (result) outcome = result;
        },
        onRetry: (ms) => {
          this.serverRetryMs = ms;
        },
        onLastEventId: (id) => {
          if (!outcome && !this.finished) this.lastId = id;
        },
      },
      this.lastId,
    );

    const reader = res.body.getReader();
    try {
      while (!outcome && !this.finished) {
        const { done, value } = await reader.read();
        if (done) break;
        feedWatchdog();
        parser.feed(value);
      }
    } catch (cause) {
      if (this.finished) return { kind: "stop", info: { reason: "closed" } };
      outcome = { kind: "retry", error: wasSilent() ? silenceError() : this.networkError(cause) };
    } finally {
      parser.end();
      reader.cancel().catch(() => {});
    }
    if (this.finished) return { kind: "stop", info: { reason: "closed" } };
    if (delivered || Date.now() - openedAt >= this.backoff.resetAfterMs) this.backoff.reset();
    return (
      outcome ?? {
        kind: "retry",
        error: new NetworkError({ code: "stream_ended", message: `${this.what()}: the server ended the stream` }),
      }
    );
  }

  /** One event: a message is delivered, reset and close are acted on. */
  private handleEvent(event: SseEvent): Outcome | "delivered" | undefined {
    const data = parseJson(event.data);
    switch (event.type) {
      case "message": {
        if (!isRecord(data)) {
          this.protocolError(`a message that is not a JSON object: ${event.data.slice(0, 100)}`);
          return undefined;
        }
        const id = typeof data.id === "string" && data.id ? data.id : event.lastEventId;
        if (!event.lastEventId && id) this.lastId = id; // no `id:` line: resume from the message's id
        if (this.watermark && DECIMAL.test(id) && DECIMAL.test(this.watermark) && !decimalGreater(id, this.watermark)) {
          return undefined; // already delivered
        }
        if (id) this.watermark = id;
        const message: TopicMessage<T> = {
          topic: typeof data.topic === "string" ? data.topic : this.topic,
          message: data.message as T,
          publishedAt: typeof data.published_at === "number" ? data.published_at : Date.now(),
          id,
        };
        safely(() => this.onMessage(message));
        return "delivered";
      }
      case "reset": {
        const info: ResetInfo = {
          topic: isRecord(data) && typeof data.topic === "string" ? data.topic : this.topic,
          reason: isRecord(data) && typeof data.reason === "string" ? data.reason : "unknown",
          latestId: isRecord(data) && typeof data.latest_id === "string" ? data.latest_id : "",
        };
        // What comes next is live: resume from the server's newest id, and
        // accept any id (the server's numbering may have started over).
        if (info.latestId) this.lastId = info.latestId;
        this.watermark = undefined;
        safely(() => this.options.onReset?.(info));
        return undefined;
      }
      case "close": {
        const reason = isRecord(data) && typeof data.reason === "string" ? data.reason : "";
        return this.closeOutcome(reason);
      }
      default:
        return undefined; // event types of later versions
    }
  }

  private closeOutcome(reason: string): Outcome {
    switch (reason) {
      case "topic_deleted":
        return { kind: "stop", info: { reason: "topic_deleted" } };
      case "token_expired":
        if (!this.options.getToken) {
          const error = new PiCloudError({
            kind: "client",
            status: 401,
            code: "token_expired",
            message: `${this.what()}: the token expired and there is no getToken to get another`,
          });
          return { kind: "stop", info: { reason: "error", error } };
        }
        this.needFreshToken = true;
        return { kind: "retry", immediate: true };
      default:
        // shutdown, too_slow, topic_changed, and reasons of later versions.
        return { kind: "retry" };
    }
  }

  private protocolError(message: string): void {
    const error = new PiCloudError({ kind: "protocol", code: "bad_event", message: `${this.what()}: ${message}` });
    safely(() => this.options.onError?.(error, { reconnectInMs: null }));
  }
}

export function subscribe<T>(
  transport: StreamTransport,
  topic: string,
  onMessage: (message: TopicMessage<T>) => void,
  options: SubscribeOptions = {},
): Subscription {
  return new TopicSubscription<T>(transport, topic, onMessage, options);
}
