// The signed-in user, shared through a Preact context, and the loaded
// plugins (GET /api/v1/admin/plugins), fetched once and shared.

import { createContext, h, type ComponentChildren } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { ADMIN, ApiError, request } from './api';
import type { View } from './types';

export interface Me {
  id: string;
  username: string;
  owner: boolean;
}

export interface Session {
  me: Me;
  refresh(): Promise<void>;
  signOut(): Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function SessionProvider(props: { value: Session; children: ComponentChildren }) {
  return h(SessionContext.Provider, { value: props.value }, props.children);
}

/** The signed-in user; only used inside the signed-in part of the app. */
export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession() outside a signed-in page');
  return s;
}

/** Reads GET /me, accepting {"user": {...}} or the user at the top level. */
export async function fetchMe(): Promise<Me> {
  const r = await request<any>('GET', `${ADMIN}/me`);
  const u = r && typeof r === 'object' && r.user ? r.user : r;
  return { id: String(u.id), username: String(u.username), owner: !!u.owner };
}

export interface PluginInfo {
  name: string;
  version: string;
  sdk_version?: string;
  provides?: string[];
  depends?: string[];
  views?: View[];
  [k: string]: unknown;
}

export interface PluginsAnswer {
  kernel: { version: string; abi?: string; [k: string]: unknown };
  items: PluginInfo[];
}

type PluginsState = { answer: PluginsAnswer | null; error: ApiError | null; loaded: boolean };
let pluginsState: PluginsState = { answer: null, error: null, loaded: false };
let pluginsPromise: Promise<void> | null = null;
const pluginsListeners = new Set<() => void>();

function loadPlugins(force = false): Promise<void> {
  if (pluginsPromise && !force) return pluginsPromise;
  pluginsPromise = request<PluginsAnswer>('GET', `${ADMIN}/plugins`)
    .then((answer) => {
      pluginsState = { answer: answer && Array.isArray(answer.items) ? answer : null, error: null, loaded: true };
    })
    .catch((e) => {
      pluginsState = { answer: null, error: e instanceof ApiError ? e : new ApiError(0, 'error', String(e)), loaded: true };
    })
    .finally(() => {
      for (const l of pluginsListeners) l();
    });
  return pluginsPromise;
}

/** Forgets the loaded plugins (after sign-out, or to reload). */
export function resetPlugins(): void {
  pluginsPromise = null;
  pluginsState = { answer: null, error: null, loaded: false };
}

/** The plugins answer, or null while loading or when the endpoint is missing. */
export function usePlugins(): PluginsAnswer | null {
  return usePluginsState().answer;
}

/** The same with loading and error state, for the plugins page. */
export function usePluginsState(): PluginsState & { reload(): void } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    pluginsListeners.add(l);
    void loadPlugins();
    return () => {
      pluginsListeners.delete(l);
    };
  }, []);
  return { ...pluginsState, reload: () => void loadPlugins(true) };
}
