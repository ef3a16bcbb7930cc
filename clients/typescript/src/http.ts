// One HTTP exchange with a PiCloud app: builds the URL and headers, sends
// JSON, reads JSON (or text) back, and turns every failure into a
// PiCloudError — network, timeout, abort, 4xx, 5xx, or an unusable answer.

import { AbortError, NetworkError, PiCloudError, TimeoutError, errorFromResponse } from "./errors.js";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export type QueryValue = string | number | boolean | null | undefined;
/** Query parameters; arrays repeat the name, null and undefined are left out. */
export type Query = Record<string, QueryValue | readonly QueryValue[]>;

export interface RequestOptions {
  /** Extra headers for this request (they win over the client's). */
  headers?: Record<string, string>;
  /** Aborts the request (it then throws an AbortError). */
  signal?: AbortSignal;
  /** Gives up after this many milliseconds (a TimeoutError); default: the client's `timeoutMs`. */
  timeoutMs?: number;
  /** The bearer token for this request; null sends none. Default: the client's token. */
  token?: string | null;
  /** Query parameters (for post/put/patch; get and delete take them as their first argument). */
  query?: Query;
  /** Passed to fetch as is (e.g. "include" to send cookies to another origin). */
  credentials?: RequestCredentials;
}

export interface Transport {
  baseUrl: string;
  fetch: FetchLike;
  headers: () => Record<string, string>;
  token: () => string | null;
  timeoutMs: number;
}

/** Joins the base URL and a path ("/a" + "b", "/a/" + "/b" → "/a/b"); absolute URLs pass. */
export function joinUrl(baseUrl: string, path: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(path)) return path;
  if (!path) return baseUrl;
  return baseUrl.replace(/\/+$/, "") + "/" + path.replace(/^\/+/, "");
}

export function withQuery(url: string, query?: Query): string {
  if (!query) return url;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values as QueryValue[]) if (v !== null && v !== undefined) params.append(name, String(v));
  }
  const qs = params.toString();
  if (!qs) return url;
  return url + (url.includes("?") ? "&" : "?") + qs;
}

/** Bodies sent as they are; everything else is sent as JSON. */
function isRawBody(body: unknown): body is BodyInit {
  return (
    (typeof FormData !== "undefined" && body instanceof FormData) ||
    (typeof Blob !== "undefined" && body instanceof Blob) ||
    (typeof URLSearchParams !== "undefined" && body instanceof URLSearchParams) ||
    (typeof ReadableStream !== "undefined" && body instanceof ReadableStream) ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  );
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  const lower = name.toLowerCase();
  return Object.keys(headers).some((k) => k.toLowerCase() === lower);
}

function isJsonType(contentType: string | null): boolean {
  if (!contentType) return false;
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  return type === "application/json" || type.endsWith("+json");
}

/**
 * An AbortController that follows the caller's signal and a timeout, and
 * remembers which of the two fired (AbortSignal.any needs Node 20).
 */
export class Deadline {
  readonly controller = new AbortController();
  timedOut = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort = () => this.controller.abort(this.signal?.reason);

  constructor(
    private readonly signal: AbortSignal | undefined,
    timeoutMs: number,
  ) {
    if (signal) {
      if (signal.aborted) this.controller.abort(signal.reason);
      else signal.addEventListener("abort", this.onAbort, { once: true });
    }
    if (timeoutMs > 0 && !this.controller.signal.aborted) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.controller.abort();
      }, timeoutMs);
    }
  }

  get callerAborted(): boolean {
    return !!this.signal?.aborted;
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.signal?.removeEventListener("abort", this.onAbort);
  }

  /** The error for a failure of fetch or of reading the body. */
  failure(cause: unknown, what: string, timeoutMs: number): PiCloudError {
    if (cause instanceof PiCloudError) return cause;
    if (this.timedOut) return new TimeoutError({ message: `${what}: no complete answer within ${timeoutMs} ms`, cause });
    if (this.callerAborted) return new AbortError({ message: `${what}: aborted`, cause });
    const detail = cause instanceof Error ? describeCause(cause) : String(cause);
    return new NetworkError({ message: `${what}: ${detail}`, cause });
  }
}

function describeCause(err: Error): string {
  // Node's fetch says "fetch failed" and keeps the reason (ECONNREFUSED, ...) in `cause`.
  const inner = (err as { cause?: unknown }).cause;
  if (inner instanceof Error && inner.message && inner.message !== err.message) return `${err.message} (${inner.message})`;
  if (inner && typeof inner === "object" && "code" in inner) return `${err.message} (${String((inner as { code: unknown }).code)})`;
  return err.message;
}

/**
 * Sends one request and returns the answer's body: parsed JSON when the
 * answer says it is JSON, otherwise text (undefined when empty).
 */
export async function request<Res>(
  t: Transport,
  method: string,
  path: string,
  body: unknown,
  options: RequestOptions = {},
): Promise<Res> {
  const url = withQuery(joinUrl(t.baseUrl, path), options.query);
  const headers: Record<string, string> = { Accept: "application/json, text/plain;q=0.9, */*;q=0.8", ...t.headers() };
  for (const [k, v] of Object.entries(options.headers ?? {})) {
    for (const existing of Object.keys(headers)) if (existing.toLowerCase() === k.toLowerCase()) delete headers[existing];
    headers[k] = v;
  }
  const token = options.token === undefined ? t.token() : options.token;
  if (token && !hasHeader(headers, "Authorization")) headers["Authorization"] = `Bearer ${token}`;

  let payload: BodyInit | undefined;
  if (body !== undefined) {
    if (isRawBody(body)) {
      payload = body;
    } else {
      payload = JSON.stringify(body);
      if (!hasHeader(headers, "Content-Type")) headers["Content-Type"] = "application/json";
    }
  }

  const timeoutMs = options.timeoutMs ?? t.timeoutMs;
  const deadline = new Deadline(options.signal, timeoutMs);
  const what = `${method} ${path}`;
  try {
    let res: Response;
    try {
      const init: RequestInit = { method, headers, body: payload, signal: deadline.controller.signal };
      if (options.credentials) init.credentials = options.credentials;
      res = await t.fetch(url, init);
    } catch (cause) {
      throw deadline.failure(cause, what, timeoutMs);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (cause) {
      throw deadline.failure(cause, what, timeoutMs);
    }
    const requestId = res.headers.get("x-request-id") ?? undefined;
    const json = isJsonType(res.headers.get("content-type"));
    let parsed: unknown = text === "" ? undefined : text;
    let jsonError: unknown;
    if (json && text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        jsonError = e;
      }
    }
    if (!res.ok) throw errorFromResponse(res.status, res.statusText, parsed, requestId);
    if (jsonError !== undefined) {
      throw new PiCloudError({
        kind: "protocol",
        code: "invalid_json",
        status: res.status,
        message: `${what}: the answer says it is JSON but is not (${(jsonError as Error).message})`,
        requestId,
        body: text,
        cause: jsonError,
      });
    }
    return parsed as Res;
  } finally {
    deadline.dispose();
  }
}
