// History routing under the base path /admin (the kernel serves index.html
// for every deep link).

import { useEffect, useState } from 'preact/hooks';

export const BASE = '/admin';

function current(): string {
  let p = location.pathname;
  if (p.startsWith(BASE)) p = p.slice(BASE.length);
  if (!p.startsWith('/')) p = '/' + p;
  return p;
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

/** The full href for an app path ("/apps/x" → "/admin/apps/x"). */
export function href(path: string): string {
  return BASE + (path.startsWith('/') ? path : '/' + path);
}

let leaveGuard: (() => boolean) | null = null;

/**
 * While set, navigating inside the dashboard first asks `confirmLeave()`
 * (e.g. a script with unsaved changes); false stays on the page.
 */
export function setLeaveGuard(confirmLeave: (() => boolean) | null): void {
  leaveGuard = confirmLeave;
}

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  const url = href(path);
  if (url === location.pathname + location.search) return;
  if (leaveGuard && !leaveGuard()) return;
  leaveGuard = null;
  if (opts.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  listeners.forEach((l) => l());
  window.scrollTo(0, 0);
}

export interface Location {
  path: string;
  query: URLSearchParams;
}

/** The current path (without /admin) and query; re-renders on navigation. */
export function useLocation(): Location {
  const [, set] = useState(0);
  useEffect(() => {
    const l = () => set((n) => n + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return { path: current(), query: new URLSearchParams(location.search) };
}

/** Replaces the query string without adding a history entry. */
export function setQuery(values: Record<string, string | undefined>): void {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  history.replaceState(null, '', location.pathname + (s ? '?' + s : ''));
  listeners.forEach((l) => l());
}

/**
 * Matches "/apps/:app/scripts/:script" against a path; returns the
 * parameters (decoded) or null. "*" takes the rest as it is, still encoded,
 * for a nested match() to decode once. A malformed escape matches nothing.
 */
export function match(pattern: string, path: string): Record<string, string> | null {
  const ps = pattern.split('/').filter(Boolean);
  const xs = path.split('/').filter(Boolean);
  const out: Record<string, string> = {};
  try {
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i];
      if (p === '*') {
        out['*'] = xs.slice(i).join('/');
        return out;
      }
      if (i >= xs.length) return null;
      if (p.startsWith(':')) out[p.slice(1)] = decodeURIComponent(xs[i]);
      else if (p !== xs[i]) return null;
    }
  } catch {
    return null; // URIError: "%E0" and the like
  }
  return xs.length === ps.length ? out : null;
}

/** Click handler for <a href> links: client-side navigation for plain clicks. */
export function linkClick(e: MouseEvent, path: string): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(path);
}
