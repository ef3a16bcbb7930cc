// The errors the client throws. Every failure is a PiCloudError; `kind` says
// which sort it is (and each sort has its own subclass), so callers can branch
// on `err.kind` even where `instanceof` fails (two copies of the package).
//
// PiCloud answers errors as {"error": {"code", "message", "details"}}; a body
// of another shape (a script's own 4xx, a proxy's HTML page) still gives an
// error with the status, a code derived from it and the start of the body.

export type PiCloudErrorKind =
  | "network" // no answer: refused, reset, DNS, the stream cut off
  | "timeout" // the request's timeout ran out
  | "aborted" // the caller's AbortSignal fired
  | "client" // a 4xx answer
  | "server" // a 5xx answer
  | "http" // another non-2xx answer (a 3xx when redirects are not followed)
  | "protocol" // an answer the client cannot use (bad JSON, not an event stream, no token)
  | "token"; // a subscription's getToken failed (its error is the cause)

export interface PiCloudErrorInit {
  kind: PiCloudErrorKind;
  message: string;
  status?: number;
  code?: string;
  details?: Record<string, unknown>;
  requestId?: string;
  body?: unknown;
  cause?: unknown;
}

export class PiCloudError extends Error {
  /** Which sort of failure this is. */
  readonly kind: PiCloudErrorKind;
  /** The HTTP status, or 0 when there was no answer. */
  readonly status: number;
  /** For programs: PiCloud's `error.code`, or one derived from the status or the failure. */
  readonly code: string;
  /** PiCloud's `error.details` (an empty object when there were none). */
  readonly details: Record<string, unknown>;
  /** The answer's `X-Request-Id`, to find the request in the server's log. */
  readonly requestId: string | undefined;
  /** The answer's body: parsed JSON, or text. */
  readonly body: unknown;

  constructor(init: PiCloudErrorInit) {
    super(init.message);
    // Set explicitly: `cause` in the constructor options needs ES2022.
    if (init.cause !== undefined) (this as { cause?: unknown }).cause = init.cause;
    this.name = "PiCloudError";
    this.kind = init.kind;
    this.status = init.status ?? 0;
    this.code = init.code ?? init.kind;
    this.details = init.details ?? {};
    this.requestId = init.requestId;
    this.body = init.body;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** No answer came: the connection failed or was cut. */
export class NetworkError extends PiCloudError {
  constructor(init: Omit<PiCloudErrorInit, "kind">) {
    super({ code: "network_error", ...init, kind: "network" });
    this.name = "NetworkError";
  }
}

/** The request's timeout ran out before the answer was complete. */
export class TimeoutError extends PiCloudError {
  constructor(init: Omit<PiCloudErrorInit, "kind">) {
    super({ code: "timeout", ...init, kind: "timeout" });
    this.name = "TimeoutError";
  }
}

/** The caller aborted the request through its AbortSignal. */
export class AbortError extends PiCloudError {
  constructor(init: Omit<PiCloudErrorInit, "kind">) {
    super({ code: "aborted", ...init, kind: "aborted" });
    this.name = "AbortError";
  }
}

/** A non-2xx answer. ClientError (4xx) and ServerError (5xx) narrow it. */
export class HttpError extends PiCloudError {
  constructor(init: PiCloudErrorInit) {
    super(init);
    this.name = "HttpError";
  }
}

/** A 4xx answer: the request was refused (fix it, sign in, or give up). */
export class ClientError extends HttpError {
  constructor(init: Omit<PiCloudErrorInit, "kind">) {
    super({ ...init, kind: "client" });
    this.name = "ClientError";
  }
}

/** A 5xx answer: the server or the app's script failed (retrying may help). */
export class ServerError extends HttpError {
  constructor(init: Omit<PiCloudErrorInit, "kind">) {
    super({ ...init, kind: "server" });
    this.name = "ServerError";
  }
}

/** True for any error this package throws, including one from another copy of it. */
export function isPiCloudError(value: unknown): value is PiCloudError {
  if (value instanceof PiCloudError) return true;
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<PiCloudError>;
  return typeof v.kind === "string" && typeof v.status === "number" && typeof v.code === "string";
}

const STATUS_CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  408: "request_timeout",
  409: "conflict",
  410: "gone",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "unprocessable",
  429: "rate_limited",
  500: "internal",
  502: "bad_gateway",
  503: "unavailable",
  504: "gateway_timeout",
};

/** The code used when an answer does not carry PiCloud's error shape. */
export function codeForStatus(status: number): string {
  return STATUS_CODES[status] ?? `http_${status}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function excerpt(text: string, max = 200): string {
  const t = text.trim().replace(/\s+/g, " ");
  return t.length > max ? t.slice(0, max) + "…" : t;
}

/**
 * The error for a non-2xx answer, from its status, body (parsed JSON or text)
 * and request id.
 */
export function errorFromResponse(status: number, statusText: string, body: unknown, requestId?: string): HttpError {
  let code = codeForStatus(status);
  let message = "";
  let details: Record<string, unknown> = {};
  if (isRecord(body)) {
    const err = body.error;
    if (isRecord(err)) {
      // PiCloud's shape: {"error": {"code", "message", "details"}}.
      if (typeof err.code === "string" && err.code) code = err.code;
      if (typeof err.message === "string") message = err.message;
      if (isRecord(err.details)) details = err.details;
    } else {
      // Common shapes of apps' own errors: {"error": "..."}, {"message": "...", "code": "..."}.
      if (typeof err === "string") message = err;
      else if (typeof body.message === "string") message = body.message;
      if (typeof body.code === "string" && body.code) code = body.code;
      if (isRecord(body.details)) details = body.details;
    }
  } else if (typeof body === "string" && body.trim()) {
    message = excerpt(body);
  }
  if (!message) message = statusText ? `${status} ${statusText}` : `HTTP ${status}`;
  const init = { status, code, message, details, requestId, body };
  if (status >= 400 && status < 500) return new ClientError(init);
  if (status >= 500 && status < 600) return new ServerError(init);
  return new HttpError({ ...init, kind: "http" });
}
