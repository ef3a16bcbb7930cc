import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (d: T | null) => void;
}

/**
 * Runs `load` on mount and whenever `deps` change; keeps the last data while
 * reloading; ignores answers that arrive after a newer load started.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const fn = useRef(load);
  fn.current = load;

  const reload = useCallback(async () => {
    const n = ++seq.current;
    setLoading(true);
    try {
      const d = await fn.current();
      if (n !== seq.current) return;
      setData(d);
      setError(null);
    } catch (e) {
      if (n !== seq.current) return;
      setError(e);
    } finally {
      if (n === seq.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    setData(null);
    void reload();
    return () => {
      seq.current++;
    };
  }, deps);

  return { data, error, loading, reload, setData };
}

/** Calls fn every `ms` while `enabled` and the page is visible. */
export function useInterval(fn: () => void, ms: number, enabled = true): void {
  const f = useRef(fn);
  f.current = fn;
  useEffect(() => {
    if (!enabled) return;
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') f.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms, enabled]);
}

/** Sets the document title ("… · PiCloud"). */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · PiCloud` : 'PiCloud admin';
  }, [title]);
}
