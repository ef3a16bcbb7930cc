// React bindings: a provider for the client, a hook to follow a topic and a
// hook to load an endpoint. React (16.8 or later) is an optional peer
// dependency: only this entry point imports it.

import * as React from "react";
import type { PiCloudClient } from "./client.js";
import type { PiCloudError } from "./errors.js";
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

const PiCloudContext = React.createContext<PiCloudClient | null>(null);

export interface PiCloudProviderProps {
  client: PiCloudClient;
  children?: React.ReactNode;
}

/** Makes `client` available to usePiCloud, useTopic and useEndpoint below it. */
export function PiCloudProvider(props: PiCloudProviderProps): React.ReactElement {
  return React.createElement(PiCloudContext.Provider, { value: props.client }, props.children);
}

/** The client of the nearest PiCloudProvider. */
export function usePiCloud(): PiCloudClient {
  const client = React.useContext(PiCloudContext);
  if (!client) throw new Error("usePiCloud: no <PiCloudProvider client={...}> above this component");
  return client;
}

export interface UseTopicOptions<T> extends FollowTopicOptions<T> {
  /** false: do not subscribe (yet), e.g. until signed in. Default true. */
  enabled?: boolean;
  /** A client other than the provider's. */
  client?: PiCloudClient;
}

/**
 * Follows a topic while the component is mounted. It subscribes again when
 * the topic, the token or `enabled` change; the callbacks may change freely.
 */
export function useTopic<T = unknown>(topic: string, options: UseTopicOptions<T> = {}): TopicState<T> {
  const contextClient = React.useContext(PiCloudContext);
  const client = options.client ?? contextClient;
  if (!client) throw new Error("useTopic: no <PiCloudProvider client={...}> above this component and no `client` option");
  const enabled = options.enabled ?? true;
  const [state, setState] = React.useState<TopicState<T>>(() => initialTopicState<T>());
  const latest = React.useRef(options);
  latest.current = options;

  React.useEffect(() => {
    if (!enabled) {
      setState(initialTopicState<T>());
      return undefined;
    }
    const o = latest.current;
    // The callbacks are read from the ref at call time, so a new closure per render does not resubscribe.
    return followTopic<T>(
      client,
      topic,
      {
        ...o,
        getToken: o.getToken ? () => latest.current.getToken!() : undefined,
        onMessage: (m) => latest.current.onMessage?.(m),
        onOpen: () => latest.current.onOpen?.(),
        onError: (e, i) => latest.current.onError?.(e, i),
        onReset: (r) => latest.current.onReset?.(r),
        onClose: (c) => latest.current.onClose?.(c),
      },
      setState,
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, topic, enabled, options.token, options.lastEventId, options.keep, options.heartbeatMs]);

  return state;
}

export interface UseEndpointResult<Res> {
  data: Res | undefined;
  error: PiCloudError | null;
  loading: boolean;
  /** Loads it again (keeps showing the current data meanwhile). */
  refresh: () => void;
}

export interface UseEndpointOptions {
  /** false: do not load (yet). Default true. */
  enabled?: boolean;
  /** A client other than the provider's. */
  client?: PiCloudClient;
}

/**
 * GETs an endpoint while the component is mounted, again when the path, the
 * query (compared as JSON) or the client's token change, and on refresh().
 */
export function useEndpoint<Res = unknown>(
  path: string,
  query?: Query,
  options: UseEndpointOptions = {},
): UseEndpointResult<Res> {
  const contextClient = React.useContext(PiCloudContext);
  const client = options.client ?? contextClient;
  if (!client) throw new Error("useEndpoint: no <PiCloudProvider client={...}> above this component and no `client` option");
  const enabled = options.enabled ?? true;
  const [state, setState] = React.useState<EndpointState<Res>>({ data: undefined, error: null, loading: enabled });
  const [generation, setGeneration] = React.useState(0);
  const [token, setToken] = React.useState(client.auth.token);
  const stateRef = React.useRef(state);
  stateRef.current = state;
  const queryKey = JSON.stringify(query ?? {});

  React.useEffect(() => client.auth.onChange(setToken), [client]);

  React.useEffect(() => {
    if (!enabled) return undefined;
    return loadEndpoint<Res>(client, path, JSON.parse(queryKey) as Query, stateRef.current, setState);
  }, [client, path, queryKey, enabled, token, generation]);

  const refresh = React.useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, refresh };
}
