import { usePluginsState } from '../session';
import type { AppRef, View } from '../types';
import { ErrorBanner } from '../ui';
import { PluginViewLazy } from '../external';
import { useTitle } from '../hooks';

function find(items: { name: string; views?: View[] }[] | undefined, plugin: string, id: string, scope: 'app' | 'instance') {
  const p = items?.find((x) => x.name === plugin);
  return p?.views?.find((v) => v.id === id && v.scope === scope) ?? null;
}

function Host({ plugin, viewId, app }: { plugin: string; viewId: string; app: AppRef | null }) {
  const st = usePluginsState();
  const view = find(st.answer?.items, plugin, viewId, app ? 'app' : 'instance');
  useTitle(view ? view.title : plugin);
  if (!st.loaded) {
    return (
      <p class="muted" role="status">
        Loading…
      </p>
    );
  }
  if (st.error) return <ErrorBanner error={st.error} title="Could not load the plugins" onRetry={st.reload} />;
  if (!view) {
    return (
      <div>
        {!app && <h1>Not found</h1>}
        <p>The plugin “{plugin}” has no view “{viewId}” here.</p>
      </div>
    );
  }
  return (
    <div class="plugin-view-host stack">
      {app ? (
        <div class="toolbar">
          <h2>{view.title}</h2>
        </div>
      ) : null}
      <PluginViewLazy key={`${plugin}/${view.id}/${app?.id ?? ''}`} plugin={plugin} view={view} app={app} />
    </div>
  );
}

export function InstancePluginView({ plugin, viewId }: { plugin: string; viewId: string }) {
  return (
    <section class="page">
      <Host plugin={plugin} viewId={viewId} app={null} />
    </section>
  );
}

export function AppPluginView({ plugin, viewId, app }: { plugin: string; viewId: string; app: AppRef }) {
  return <Host plugin={plugin} viewId={viewId} app={app} />;
}
