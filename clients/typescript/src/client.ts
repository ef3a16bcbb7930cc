// The client: one per app (base URL). It ties together the app's endpoints
// (JSON over fetch), the signed-in token, and realtime subscriptions.

import { Auth, memoryStorage, type TokenStorage } from "./auth.js";
import { request, type FetchLike, type Query, type RequestOptions } from "./http.js";
import { subscribe, type SubscribeOptions, type Subscription, type TopicMessage } from "./subscribe.js";

export interface ClientOptions {
  /** The app's origin, e.g. "https://shop.example.com" (a path prefix is kept). */
  baseUrl: string;
  /** The fetch to use (default: the global one). Node ≥ 18 and browsers have one. */
  fetch?: FetchLike;
  /** The initial token (it replaces what `storage` holds). */
  token?: string | null;
  /** Headers sent with every request (a function is called for each request). */
  headers?: Record<string, string> | (() => Record<string, string>);
  /** Where the token is kept (default: memory; localStorageStorage() in browsers). */
  storage?: TokenStorage;
  /** Default timeout of endpoint requests in ms (default 0: none). Subscriptions have their own liveness check. */
  timeoutMs?: number;
}

/** One route of the app, typed by its request body (or query) and its answer. */
export interface Endpoint<Req = unknown, Res = unknown> {
  readonly path: string;
  get(query?: Query, options?: RequestOptions): Promise<Res>;
  post(body?: Req, options?: RequestOptions): Promise<Res>;
  put(body?: Req, options?: RequestOptions): Promise<Res>;
  patch(body?: Req, options?: RequestOptions): Promise<Res>;
  delete(query?: Query, options?: RequestOptions): Promise<Res>;
}

export interface PiCloudClient {
  readonly baseUrl: string;
  readonly auth: Auth;
  /** A typed handle on one of the app's routes. */
  endpoint<Req = unknown, Res = unknown>(path: string): Endpoint<Req, Res>;
  /** Any request: the building block of endpoint(). */
  request<Res = unknown>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<Res>;
  /** Follows one of the app's realtime topics until closed. */
  subscribe<T = unknown>(
    topic: string,
    onMessage: (message: TopicMessage<T>) => void,
    options?: SubscribeOptions,
  ): Subscription;
}

function defaultFetch(): FetchLike {
  const f = (globalThis as { fetch?: FetchLike }).fetch;
  if (!f) throw new Error("@picloud/client: no global fetch (Node 18 or later, or pass `fetch` to createClient)");
  // Called through globalThis: browsers refuse a fetch detached from window.
  return (input, init) => (globalThis as unknown as { fetch: FetchLike }).fetch(input, init);
}

export function createClient(options: ClientOptions): PiCloudClient {
  if (!options || typeof options.baseUrl !== "string") throw new TypeError("createClient: baseUrl is required");
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const fetchImpl = options.fetch ?? defaultFetch();
  const headerOption = options.headers;
  const headers = () => (typeof headerOption === "function" ? headerOption() : { ...(headerOption ?? {}) });
  let auth: Auth;
  const transport = {
    baseUrl,
    fetch: fetchImpl,
    headers,
    token: () => auth.token,
    timeoutMs: options.timeoutMs ?? 0,
  };
  const send = <Res>(method: string, path: string, body?: unknown, init?: RequestOptions) =>
    request<Res>(transport, method, path, body, init);
  auth = new Auth(
    options.storage ?? memoryStorage(),
    { post: (path, body, init) => send("POST", path, body, init) },
    options.token,
  );

  return {
    baseUrl,
    auth,
    request: send,
    endpoint<Req = unknown, Res = unknown>(path: string): Endpoint<Req, Res> {
      return {
        path,
        get: (query, init) => send<Res>("GET", path, undefined, { ...init, query: { ...init?.query, ...query } }),
        post: (body, init) => send<Res>("POST", path, body, init),
        put: (body, init) => send<Res>("PUT", path, body, init),
        patch: (body, init) => send<Res>("PATCH", path, body, init),
        delete: (query, init) => send<Res>("DELETE", path, undefined, { ...init, query: { ...init?.query, ...query } }),
      };
    },
    subscribe<T = unknown>(topic: string, onMessage: (message: TopicMessage<T>) => void, subscribeOptions?: SubscribeOptions) {
      return subscribe<T>({ baseUrl, fetch: fetchImpl, headers }, topic, onMessage, subscribeOptions);
    },
  };
}
