// The components other parts of the dashboard provide (the triggers tab and
// the plugin view renderer), loaded lazily as their own chunks. While a part
// is missing from the source tree the dashboard still builds and shows a note.

import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { AppRef, View } from './types';
import { ErrorBanner } from './ui';

const triggerModules = import.meta.glob('./triggers/TriggersTab.tsx');
const pluginViewModules = import.meta.glob('./plugin-views/PluginViewPage.tsx');

function useLazy<P>(modules: Record<string, () => Promise<unknown>>, exportName: string) {
  const [state, setState] = useState<{ C: ComponentType<P> | null; error: unknown; missing: boolean }>({
    C: null,
    error: null,
    missing: false,
  });
  useEffect(() => {
    const load = Object.values(modules)[0];
    if (!load) {
      setState({ C: null, error: null, missing: true });
      return;
    }
    let alive = true;
    load()
      .then((m: any) => {
        const C = m[exportName];
        if (alive) setState({ C: C ?? null, error: C ? null : new Error(`${exportName} is not exported`), missing: false });
      })
      .catch((e) => alive && setState({ C: null, error: e, missing: false }));
    return () => {
      alive = false;
    };
  }, []);
  return state;
}

function Lazy<P>(props: { modules: Record<string, () => Promise<unknown>>; name: string; what: string; props: P }) {
  const { C, error, missing } = useLazy<P>(props.modules, props.name);
  if (missing) return <p class="muted">{props.what} are not part of this build.</p>;
  if (error) return <ErrorBanner error={error} title={`${props.what} could not be loaded`} />;
  if (!C) {
    return (
      <p class="muted" role="status">
        Loading…
      </p>
    );
  }
  return <C {...(props.props as any)} />;
}

export function TriggersTabLazy(props: { app: AppRef }) {
  return <Lazy modules={triggerModules} name="TriggersTab" what="Triggers" props={props} />;
}

export function PluginViewLazy(props: { plugin: string; view: View; app: AppRef | null }) {
  return <Lazy modules={pluginViewModules} name="PluginViewPage" what="Plugin views" props={props} />;
}
