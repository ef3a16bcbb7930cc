// Svelte stores for a topic and an endpoint. They follow the store contract
// (subscribe(run) → unsubscribe, run called at once with the current value),
// so `$store` works in components, without importing svelte. Like svelte's
// readable(): the work starts with the first subscriber and stops with the
// last.

import type { PiCloudClient } from "./client.js";
import {
  followTopic,
  initialTopicState,
  loadEndpoint,
  type EndpointState,
  type FollowTopicOptions,
  type TopicState,
} from "./follow.js";
import type { Query } from "./http.js";

export type { EndpointState, FollowTopicOptions, TopicState, TopicStatus } from "./follow.js";

export type Subscriber<T> = (value: T) => void;
export type Unsubscriber = () => void;

export interface Readable<T> {
  subscribe(run: Subscriber<T>, invalidate?: () => void): Unsubscriber;
}

function readable<T>(initial: T, start: (set: (value: T) => void) => () => void): Readable<T> & { get(): T } {
  let value = initial;
  const subscribers = new Set<Subscriber<T>>();
  let stop: (() => void) | undefined;
  const set = (next: T) => {
    value = next;
    for (const run of [...subscribers]) run(value);
  };
  return {
    get: () => value,
    subscribe(run) {
      subscribers.add(run);
      if (subscribers.size === 1) stop = start(set);
      run(value);
      return () => {
        if (!subscribers.delete(run)) return;
        if (subscribers.size === 0 && stop) {
          const s = stop;
          stop = undefined;
          s();
        }
      };
    },
  };
}

/** A store of a topic's state: subscribed while the store has subscribers. */
export function topicStore<T = unknown>(
  client: PiCloudClient,
  topic: string,
  options: FollowTopicOptions<T> = {},
): Readable<TopicState<T>> {
  return readable(initialTopicState<T>(), (set) => followTopic<T>(client, topic, options, set));
}

export interface EndpointStore<Res> extends Readable<EndpointState<Res>> {
  /** Loads it again (while the store has subscribers). */
  refresh(): void;
}

/** A store of an endpoint's answer: loaded when the first subscriber comes, again on refresh(). */
export function endpointStore<Res = unknown>(client: PiCloudClient, path: string, query?: Query): EndpointStore<Res> {
  let load: (() => void) | undefined;
  let abort: (() => void) | undefined;
  const store = readable<EndpointState<Res>>({ data: undefined, error: null, loading: true }, (set) => {
    load = () => {
      abort?.();
      abort = loadEndpoint<Res>(client, path, query, store.get(), set);
    };
    load();
    return () => {
      abort?.();
      abort = undefined;
      load = undefined;
    };
  });
  return { subscribe: store.subscribe, refresh: () => load?.() };
}
