// The state a UI shows for a topic or an endpoint, kept up to date as
// immutable snapshots. The React hooks and the Svelte stores are thin
// wrappers around these two functions.

import type { PiCloudClient } from "./client.js";
import type { PiCloudError } from "./errors.js";
import { isPiCloudError, PiCloudError as PiCloudErrorClass } from "./errors.js";
import type { Query } from "./http.js";
import type { ResetInfo, SubscribeOptions, SubscriptionState, TopicMessage } from "./subscribe.js";

export type TopicStatus = SubscriptionState | "idle";

export interface TopicState<T> {
  /** The latest messages, oldest first (at most `keep`). */
  messages: TopicMessage<T>[];
  /** The newest message, or null. */
  last: TopicMessage<T> | null;
  status: TopicStatus;
  /** The latest error; null again once a connection is open. */
  error: PiCloudError | null;
  /** The latest reset (the app should reload what the topic updates), or null. */
  reset: ResetInfo | null;
}

export interface FollowTopicOptions<T> extends SubscribeOptions {
  /** How many messages `messages` keeps (default 100; 0 keeps none, only `last`). */
  keep?: number;
  /** Also called for each message. */
  onMessage?: (message: TopicMessage<T>) => void;
}

export function initialTopicState<T>(status: TopicStatus = "idle"): TopicState<T> {
  return { messages: [], last: null, status, error: null, reset: null };
}

/** Subscribes and reports every change of the state; returns the stop function. */
export function followTopic<T>(
  client: PiCloudClient,
  topic: string,
  options: FollowTopicOptions<T>,
  onState: (state: TopicState<T>) => void,
): () => void {
  let state = initialTopicState<T>("connecting");
  const keep = Math.max(0, options.keep ?? 100);
  const set = (patch: Partial<TopicState<T>>) => {
    state = { ...state, ...patch };
    onState(state);
  };
  onState(state);
  const subscription = client.subscribe<T>(
    topic,
    (message) => {
      const messages = keep === 0 ? state.messages : [...state.messages, message].slice(-keep);
      set({ messages, last: message, status: subscription.state });
      options.onMessage?.(message);
    },
    {
      ...options,
      onOpen: () => {
        set({ status: "open", error: null });
        options.onOpen?.();
      },
      onError: (error, info) => {
        set({ status: info.reconnectInMs === null ? state.status : "reconnecting", error });
        options.onError?.(error, info);
      },
      onReset: (info) => {
        set({ reset: info });
        options.onReset?.(info);
      },
      onClose: (info) => {
        set({ status: "closed", error: info.error ?? state.error });
        options.onClose?.(info);
      },
    },
  );
  return () => subscription.close();
}

export interface EndpointState<Res> {
  data: Res | undefined;
  error: PiCloudError | null;
  loading: boolean;
}

/** GETs the endpoint once; reports loading, then data or error. Returns the abort function. */
export function loadEndpoint<Res>(
  client: PiCloudClient,
  path: string,
  query: Query | undefined,
  previous: EndpointState<Res>,
  onState: (state: EndpointState<Res>) => void,
): () => void {
  const controller = new AbortController();
  onState({ ...previous, loading: true });
  client
    .endpoint<unknown, Res>(path)
    .get(query, { signal: controller.signal })
    .then(
      (data) => {
        if (!controller.signal.aborted) onState({ data, error: null, loading: false });
      },
      (e: unknown) => {
        if (controller.signal.aborted) return;
        const error = isPiCloudError(e)
          ? e
          : new PiCloudErrorClass({ kind: "protocol", message: e instanceof Error ? e.message : String(e), cause: e });
        onState({ data: previous.data, error, loading: false });
      },
    );
  return () => controller.abort();
}
