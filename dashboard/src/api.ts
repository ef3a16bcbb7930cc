// The one way the dashboard talks to PiCloud: same-origin fetch with the
// session cookie. Every failure becomes an ApiError carrying the API's
// {"error": {"code", "message", "details"}}.

export class ApiError extends Error {
  status: number;
  code: string;
  details: any;

  constructor(status: number, code: string, message: string, details: any = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details ?? {};
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  raw?: Blob | File;
  accept?: 'json' | 'blob' | 'text';
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called whenever the API answers 401 (the session ended): the app shows sign-in. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.append(k, String(v));
  }
  const qs = params.toString();
  if (!qs) return path;
  return path + (path.includes('?') ? '&' : '?') + qs;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'the request was refused',
  401: 'you are not signed in',
  403: 'you are not allowed to do this',
  404: 'not found',
  405: 'method not allowed',
  409: 'conflict',
  413: 'the request is too large',
  429: 'too many requests',
  500: 'internal server error',
  502: 'bad gateway',
  503: 'the server is unavailable',
};

async function toError(res: Response): Promise<ApiError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    /* body unreadable */
  }
  try {
    const json = JSON.parse(text);
    if (json && typeof json === 'object' && json.error && typeof json.error === 'object') {
      const e = json.error;
      return new ApiError(res.status, String(e.code ?? 'error'), String(e.message ?? res.statusText), e.details ?? {});
    }
  } catch {
    /* not JSON */
  }
  const fallback = STATUS_TEXT[res.status] ?? (res.statusText || 'request failed');
  return new ApiError(res.status, res.status === 404 ? 'not_found' : 'http_' + res.status, `${res.status}: ${fallback}`);
}

export async function request<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = {};
  let body: BodyInit | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    if (opts.raw.type) headers['Content-Type'] = opts.raw.type;
    else headers['Content-Type'] = 'application/octet-stream';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  const accept = opts.accept ?? 'json';
  headers['Accept'] = accept === 'json' ? 'application/json' : '*/*';

  let res: Response;
  try {
    res = await fetch(buildUrl(path, opts.query), {
      method: method.toUpperCase(),
      headers,
      body,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'PiCloud cannot be reached: ' + (e instanceof Error ? e.message : String(e)));
  }

  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 401 && !path.endsWith('/api/v1/admin/login')) {
      for (const l of unauthorizedListeners) l();
    }
    throw err;
  }
  if (res.status === 204) return null as T;
  if (accept === 'blob') return (await res.blob()) as T;
  if (accept === 'text') return (await res.text()) as T;
  const text = await res.text();
  if (!text) return null as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(res.status, 'bad_response', 'the server answered something that is not JSON');
  }
}

/** Shorthand for the admin API's base path. */
export const ADMIN = '/api/v1/admin';

/** `/api/v1/admin/apps/{app}` + rest, with the app id or slug URL-encoded. */
/**
 * Every item of a paged list ({"items", "next_cursor"}), following the
 * cursor 200 at a time.
 */
export async function requestAll<T>(path: string, query: RequestOptions['query'] = {}): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await request<{ items: T[]; next_cursor?: string | null }>('GET', path, {
      query: { ...query, limit: 200, cursor },
    });
    out.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

export function appPath(app: string, rest = ''): string {
  return `${ADMIN}/apps/${encodeURIComponent(app)}${rest}`;
}

/** A readable one-line message for any thrown value. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
