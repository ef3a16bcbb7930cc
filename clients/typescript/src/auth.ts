// Signing in to an app. PiCloud has no built-in end-user accounts: an app's
// scripts answer its own login route with a token, and check it on the routes
// that need one. The client keeps that token, sends it as
// "Authorization: Bearer", and tells listeners when it changes.

import type { RequestOptions } from "./http.js";
import { PiCloudError } from "./errors.js";

/** Where the token is kept between page loads (synchronous, like localStorage). */
export interface TokenStorage {
  get(): string | null;
  set(token: string | null): void;
  /** Optional: calls `onChange` when the token changes elsewhere (another tab); returns the unsubscribe. */
  subscribe?(onChange: (token: string | null) => void): () => void;
}

/** Keeps the token in memory only (the default): it is gone on reload. */
export function memoryStorage(initial: string | null = null): TokenStorage {
  let token = initial;
  return {
    get: () => token,
    set: (value) => {
      token = value;
    },
  };
}

/**
 * Keeps the token in the browser's localStorage under `key`, and follows
 * changes other tabs make to it. Where there is no localStorage (Node, a
 * private mode refusing writes) it falls back to memory.
 */
export function localStorageStorage(key = "picloud.token"): TokenStorage {
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (!ls) return memoryStorage();
  const fallback = memoryStorage();
  return {
    get() {
      try {
        return ls.getItem(key);
      } catch {
        return fallback.get();
      }
    },
    set(token) {
      try {
        if (token === null) ls.removeItem(key);
        else ls.setItem(key, token);
      } catch {
        fallback.set(token);
      }
    },
    subscribe(onChange) {
      const target = globalThis as { addEventListener?: typeof addEventListener; removeEventListener?: typeof removeEventListener };
      if (!target.addEventListener || !target.removeEventListener) return () => {};
      const listener = (e: Event) => {
        const se = e as StorageEvent;
        if (se.key === key || se.key === null) onChange(se.key === null ? null : se.newValue);
      };
      target.addEventListener("storage", listener);
      return () => target.removeEventListener!("storage", listener);
    },
  };
}

export interface LoginOptions extends RequestOptions {
  /** The app's login route (default "/auth/login"). */
  path?: string;
}

export interface LogoutOptions extends RequestOptions {
  /** The app's logout route (default "/auth/logout"); null clears the token without a request. */
  path?: string | null;
}

type Listener = (token: string | null) => void;

export interface AuthRequester {
  post<Res>(path: string, body: unknown, options: RequestOptions): Promise<Res>;
}

export class Auth {
  private listeners = new Set<Listener>();
  private current: string | null;

  constructor(
    private readonly storage: TokenStorage,
    private readonly requester: AuthRequester,
    initialToken?: string | null,
  ) {
    this.current = storage.get();
    if (initialToken !== undefined && initialToken !== this.current) {
      this.current = initialToken;
      storage.set(initialToken);
    }
    storage.subscribe?.((token) => this.update(token, false));
  }

  /** The token sent with every request, or null. */
  get token(): string | null {
    return this.current;
  }

  set token(value: string | null) {
    this.update(value || null, true);
  }

  /** Calls `listener` with the new token whenever it changes; returns the unsubscribe. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * POSTs the credentials to the app's login route, keeps the `token` field
   * of its JSON answer, and returns the whole answer. An answer without a
   * string `token` throws a PiCloudError with code "no_token".
   */
  async login<Res extends { token: string } = { token: string }, Credentials = unknown>(
    credentials: Credentials,
    options: LoginOptions = {},
  ): Promise<Res> {
    const { path = "/auth/login", ...init } = options;
    const answer = await this.requester.post<Res>(path, credentials, { token: null, ...init });
    const token = (answer as { token?: unknown } | undefined)?.token;
    if (typeof token !== "string" || token === "") {
      throw new PiCloudError({
        kind: "protocol",
        code: "no_token",
        status: 200,
        message: `POST ${path}: the answer has no "token" field`,
        body: answer,
      });
    }
    this.token = token;
    return answer;
  }

  /**
   * Tells the app's logout route (best effort: its failure is ignored) and
   * forgets the token in any case.
   */
  async logout(options: LogoutOptions = {}): Promise<void> {
    const { path = "/auth/logout", ...init } = options;
    const token = this.current;
    this.token = null;
    if (!token || path === null) return;
    try {
      await this.requester.post(path, undefined, { token, ...init });
    } catch {
      // Best effort: the token is forgotten here whatever the server says.
    }
  }

  private update(token: string | null, persist: boolean): void {
    if (token === this.current) return;
    this.current = token;
    if (persist) this.storage.set(token);
    for (const listener of [...this.listeners]) listener(token);
  }
}
