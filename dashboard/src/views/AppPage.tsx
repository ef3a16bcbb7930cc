import { appPath, request, ApiError } from '../api';
import { allowed, effectiveRole, type Level } from '../access';
import { useLoad, useTitle } from '../hooks';
import { match } from '../router';
import { usePlugins, useSession } from '../session';
import type { App, AppRef } from '../types';
import { ErrorBanner, Icon, Link } from '../ui';
import { NotFound } from './NotFound';
import { Overview } from './app/Overview';
import { Members } from './app/Members';
import { Scripts } from './app/Scripts';
import { ScriptPage } from './app/ScriptPage';
import { Routes } from './app/Routes';
import { Executions } from './app/Executions';
import { DeadLetters } from './app/DeadLetters';
import { TriggersTabLazy } from '../external';
import { AppPluginView } from './PluginViewHost';

export interface AppCtx {
  app: App;
  ref: AppRef;
  /** May the signed-in user act at this level in the app? */
  can: (level: Level) => boolean;
  reload: () => Promise<void>;
}

export function AppPage({ slug, rest }: { slug: string; rest: string }) {
  const { me } = useSession();
  const plugins = usePlugins();
  const loaded = useLoad(() => request<App>('GET', appPath(slug)), [slug]);
  const app = loaded.data;
  useTitle(app ? app.name : slug);

  if (loaded.error) {
    if (loaded.error instanceof ApiError && loaded.error.status === 404) return <NotFound what={`There is no app “${slug}”, or you are not a member of it.`} />;
    return (
      <section class="page">
        <h1>{slug}</h1>
        <ErrorBanner error={loaded.error} title="Could not load the app" onRetry={loaded.reload} />
      </section>
    );
  }
  if (!app) {
    return (
      <section class="page">
        <h1>{slug}</h1>
        <p class="muted" role="status">
          Loading…
        </p>
      </section>
    );
  }

  const role = effectiveRole(app.role, me.owner);
  const ref: AppRef = { id: app.id, slug: app.slug, name: app.name, role: role ?? 'viewer' };
  const ctx: AppCtx = { app, ref, can: (level) => allowed(level, role, me.owner), reload: loaded.reload };
  const base = `/apps/${app.slug}`;

  const tabs = [
    { to: '', label: 'Overview', icon: 'settings' },
    { to: 'members', label: 'Members', icon: 'users' },
    { to: 'scripts', label: 'Scripts', icon: 'code' },
    { to: 'routes', label: 'Routes', icon: 'route' },
    { to: 'triggers', label: 'Triggers', icon: 'bolt' },
    { to: 'executions', label: 'Executions', icon: 'list' },
    { to: 'dead-letters', label: 'Dead letters', icon: 'alert' },
  ];
  const appViews = (plugins?.items ?? []).flatMap((p) =>
    (p.views ?? []).filter((v) => v.scope === 'app').map((v) => ({ plugin: p.name, view: v })),
  );
  const section = rest.split('/')[0] ?? '';

  let body;
  let m: Record<string, string> | null;
  if (rest === '') body = <Overview ctx={ctx} />;
  else if (rest === 'members') body = <Members ctx={ctx} />;
  else if (rest === 'scripts') body = <Scripts ctx={ctx} />;
  else if ((m = match('scripts/:script', rest))) body = <ScriptPage ctx={ctx} name={m.script} />;
  else if (rest === 'routes') body = <Routes ctx={ctx} />;
  else if (rest === 'triggers')
    body = (
      <section class="stack" aria-labelledby="triggers-title">
        <div class="toolbar">
          <h2 id="triggers-title">Triggers</h2>
        </div>
        <TriggersTabLazy app={ref} />
      </section>
    );
  else if (rest === 'executions') body = <Executions ctx={ctx} />;
  else if ((m = match('executions/:execution', rest))) body = <Executions ctx={ctx} open={m.execution} />;
  else if (rest === 'dead-letters') body = <DeadLetters ctx={ctx} />;
  else if ((m = match('x/:plugin/:view', rest))) body = <AppPluginView app={ref} plugin={m.plugin} viewId={m.view} />;
  else body = <NotFound />;

  return (
    <section class="page app-page">
      <header class="page-head">
        <div>
          <p class="crumbs">
            <Link to="/">Apps</Link> <span aria-hidden="true">/</span>
          </p>
          <h1>{app.name}</h1>
          <p class="muted mono small">
            {app.slug}
            {app.hostnames.length > 0 && <> · {app.hostnames.join(', ')}</>}
          </p>
        </div>
        <span class={`badge badge-role-${ref.role}`}>{me.owner ? 'owner' : `your role: ${ref.role}`}</span>
      </header>
      <nav class="app-nav" aria-label={`${app.name} sections`}>
        <ul class="tabs">
          {tabs.map((t) => {
            const active = section === t.to || (t.to === '' && section === '');
            return (
              <li>
                <Link to={t.to ? `${base}/${t.to}` : base} class={`tab ${active ? 'active' : ''}`} aria-current={active ? 'page' : undefined}>
                  <Icon name={t.icon} size={16} />
                  {t.label}
                </Link>
              </li>
            );
          })}
        </ul>
        {appViews.length > 0 && (
          <div class="plugin-tabs">
            <span class="plugin-tabs-label" id="plugin-tabs-label">
              Plugins
            </span>
            <ul aria-labelledby="plugin-tabs-label">
              {appViews.map(({ plugin, view }) => {
                const to = `x/${encodeURIComponent(plugin)}/${encodeURIComponent(view.id)}`;
                const active = rest === `x/${plugin}/${view.id}`;
                return (
                  <li>
                    <Link to={`${base}/${to}`} class={`pill ${active ? 'active' : ''}`} aria-current={active ? 'page' : undefined}>
                      <Icon name={view.icon} size={15} />
                      {view.title}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </div>
        )}
      </nav>
      <div class="tab-body">{body}</div>
    </section>
  );
}
