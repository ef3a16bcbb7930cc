// @picloud/client: a small client for PiCloud apps in browsers and Node.
// The app's routes as typed endpoints, the signed-in token, and realtime
// topics over server-sent events. No run-time dependencies.

export { createClient } from "./client.js";
export type { ClientOptions, Endpoint, PiCloudClient } from "./client.js";
export { Auth, localStorageStorage, memoryStorage } from "./auth.js";
export type { LoginOptions, LogoutOptions, TokenStorage } from "./auth.js";
export type { FetchLike, Query, QueryValue, RequestOptions } from "./http.js";
export {
  AbortError,
  ClientError,
  HttpError,
  NetworkError,
  PiCloudError,
  ServerError,
  TimeoutError,
  isPiCloudError,
} from "./errors.js";
export type { PiCloudErrorInit, PiCloudErrorKind } from "./errors.js";
export { topicPath } from "./subscribe.js";
export type {
  CloseInfo,
  ErrorInfo,
  ResetInfo,
  SubscribeOptions,
  Subscription,
  SubscriptionState,
  TopicMessage,
} from "./subscribe.js";
export type { BackoffOptions } from "./backoff.js";
export { Backoff } from "./backoff.js";
export { SseParser } from "./sse.js";
export type { SseEvent, SseHandlers } from "./sse.js";
export { tokenClaims, tokenExpiresWithin, tokenExpiry } from "./token.js";
export type { RealtimeTokenClaims } from "./token.js";
