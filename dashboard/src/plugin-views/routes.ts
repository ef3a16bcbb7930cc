// Route templates of plugins' views ("PUT /api/v1/admin/apps/{app}/kv/{collection}/entry?key={key}"):
// filling their placeholders, splitting the values that are left into the
// query (GET) or the body (the rest), and whether the user's role reaches the
// level the kernel declared for the route. No DOM and no fetch here.
import { allowed, type Level, type Role } from '../access';

export interface RouteLevel {
  capability?: string;
  level: Level;
}

export interface AppContext {
  id: string;
  slug: string;
  name: string;
  role: Role | null;
}

/** Where placeholders come from, in order: the row, the section's params, the form's values. */
export interface Sources {
  app: AppContext | null;
  row?: Record<string, unknown> | null;
  params?: Record<string, unknown> | null;
  values?: Record<string, unknown> | null;
}

export interface FilledRoute {
  method: string;
  /** The path with its own query, every placeholder URL-encoded. */
  path: string;
  /** Names of the form values that went into placeholders (not sent again). */
  usedValues: Set<string>;
  /** Names of the params that went into placeholders. */
  usedParams: Set<string>;
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_.-]*)\}/g;

export function splitTemplate(template: string): { method: string; target: string } {
  const t = template.trim();
  const space = t.indexOf(' ');
  if (space < 0) return { method: 'GET', target: t };
  return { method: t.slice(0, space).toUpperCase(), target: t.slice(space + 1).trim() };
}

/** The names of a template's placeholders, `app` included. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export class MissingPlaceholder extends Error {
  constructor(public readonly name: string) {
    super(`a value for "${name}" is needed`);
    this.name = 'MissingPlaceholder';
  }
}

/**
 * A value that cannot stand in a path segment: the browser resolves "." and
 * ".." segments (encoded or not) before sending, and the server decodes
 * "%2F" before routing, so such a value would reach another route.
 */
export class UnsafePathValue extends Error {
  constructor(public readonly placeholder: string, value: string) {
    super(
      `"${value}" cannot be used as the ${placeholder} in this page's address ("." and ".." and names with "/" reach another route); use the admin API with the name in the query instead`,
    );
    this.name = 'UnsafePathValue';
  }
}

function pathSegment(name: string, value: string): string {
  let decoded = value;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    // not percent-encoded text: checked as it is
  }
  for (const v of [value, decoded])
    if (v === '.' || v === '..' || v.includes('/') || v.includes('\\')) throw new UnsafePathValue(name, value);
  return encodeURIComponent(value);
}

/**
 * Fills a template. A placeholder in the path must have a value (else
 * MissingPlaceholder) that is safe as a path segment (else UnsafePathValue).
 * A query parameter whose placeholder has none is left out for GET and HEAD,
 * so optional filters (`?prefix={prefix}`) stay optional; any other method
 * needs every one (a write must never lose its target's filter).
 */
export function fillRoute(template: string, src: Sources): FilledRoute {
  const { method, target } = splitTemplate(template);
  const usedValues = new Set<string>();
  const usedParams = new Set<string>();
  const lookup = (name: string): unknown => {
    if (name === 'app') return src.app?.id;
    if (src.row && present(src.row[name])) return src.row[name];
    if (src.params && present(src.params[name])) {
      usedParams.add(name);
      return src.params[name];
    }
    if (src.values && present(src.values[name])) {
      usedValues.add(name);
      return src.values[name];
    }
    return undefined;
  };
  const q = target.indexOf('?');
  const pathPart = q < 0 ? target : target.slice(0, q);
  const queryPart = q < 0 ? '' : target.slice(q + 1);
  const path = pathPart.replace(PLACEHOLDER, (_, name: string) => {
    const v = lookup(name);
    if (!present(v)) throw new MissingPlaceholder(name);
    return pathSegment(name, text(v));
  });
  const reading = method === 'GET' || method === 'HEAD';
  const pairs: string[] = [];
  for (const pair of queryPart.split('&')) {
    if (!pair) continue;
    let missing = false;
    const filled = pair.replace(PLACEHOLDER, (_, name: string) => {
      const v = lookup(name);
      if (!present(v)) {
        if (!reading) throw new MissingPlaceholder(name);
        missing = true;
        return '';
      }
      return encodeURIComponent(text(v));
    });
    if (!missing) pairs.push(filled);
  }
  return { method, path: pairs.length ? `${path}?${pairs.join('&')}` : path, usedValues, usedParams };
}

/** Fills `{placeholders}` in a text shown to people (a confirmation); unknown ones stay as written. */
export function fillText(template: string, src: Sources): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    if (name === 'app') return src.app?.slug ?? whole;
    for (const s of [src.row, src.params, src.values]) if (s && present(s[name])) return text(s[name]);
    return whole;
  });
}

/**
 * The level the kernel declared for a route of the view; a route it did not
 * list is assumed to need a viewer for GET and an editor otherwise.
 */
export function routeLevel(routes: Record<string, RouteLevel> | undefined, template: string): Level {
  const { method, target } = splitTemplate(template);
  const bare = target.split('?')[0];
  const found = routes?.[`${method} ${target}`] ?? routes?.[`${method} ${bare}`] ?? routes?.[template.trim()];
  // A public route asks nothing more of a signed-in user.
  if ((found?.level as string) === 'public') return 'signed_in';
  if (found?.level) return found.level;
  const scoped = bare.includes('{app}');
  if (method === 'GET' || method === 'HEAD') return scoped ? 'app_viewer' : 'signed_in';
  return scoped ? 'app_editor' : 'owner';
}

export function canUse(
  routes: Record<string, RouteLevel> | undefined,
  template: string,
  app: AppContext | null,
  owner: boolean,
): boolean {
  return allowed(routeLevel(routes, template), app?.role ?? null, owner);
}

/** The request to make: the filled path, and the rest of the form's values as the query (GET) or the JSON body; a file goes as the raw body. */
export function buildCall(
  template: string,
  src: Sources,
): { method: string; path: string; query?: Record<string, string>; body?: unknown; raw?: File } {
  const filled = fillRoute(template, src);
  const rest: Record<string, unknown> = {};
  let raw: File | undefined;
  for (const [k, v] of Object.entries(src.values ?? {})) {
    if (filled.usedValues.has(k)) continue;
    if (typeof File !== 'undefined' && v instanceof File) raw = v;
    else rest[k] = v;
  }
  const toQuery = (o: Record<string, unknown>) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) if (present(v)) out[k] = text(v);
    return out;
  };
  const { method, path } = filled;
  if (raw) return { method, path, query: toQuery(rest), raw };
  if (method === 'GET' || method === 'HEAD') return { method, path, query: toQuery(rest) };
  // A call without a form sends no body; a form's values go as a JSON object, even an empty one.
  if (!src.values && Object.keys(rest).length === 0) return { method, path };
  return { method, path, body: rest };
}
