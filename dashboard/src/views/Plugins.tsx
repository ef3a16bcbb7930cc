import { ApiError } from '../api';
import { useTitle } from '../hooks';
import { usePluginsState, type PluginInfo } from '../session';
import { ErrorBanner, Icon, Table } from '../ui';

const list = (xs: string[] | undefined) => (xs && xs.length ? xs.join(', ') : '—');

export function Plugins() {
  useTitle('Plugins');
  const st = usePluginsState();
  const missing = st.error instanceof ApiError && st.error.status === 404;
  return (
    <section class="page">
      <header class="page-head">
        <div>
          <h1>Plugins</h1>
          {st.answer && (
            <p class="muted">
              PiCloud kernel {st.answer.kernel.version}
              {st.answer.kernel.abi && <> · plugin ABI {st.answer.kernel.abi}</>}
            </p>
          )}
        </div>
        <button type="button" class="btn" onClick={st.reload}>
          <Icon name="refresh" size={16} />
          Refresh
        </button>
      </header>
      {missing ? (
        <p class="banner banner-info">This PiCloud does not list its plugins yet (GET /api/v1/admin/plugins is missing); a newer version does.</p>
      ) : (
        st.error != null && <ErrorBanner error={st.error} title="Could not load the plugins" onRetry={st.reload} />
      )}
      {!missing && (
        <Table<PluginInfo>
          caption="Loaded plugins"
          rows={st.loaded ? (st.answer?.items ?? []) : null}
          rowKey={(p) => p.name}
          empty="No plugins are loaded."
          columns={[
            { title: 'Name', render: (p) => <strong class="mono">{p.name}</strong> },
            { title: 'Version', class: 'mono', render: (p) => p.version },
            { title: 'SDK', class: 'mono', render: (p) => p.sdk_version ?? '—' },
            { title: 'Provides', class: 'mono small', render: (p) => list(p.provides) },
            { title: 'Depends on', class: 'mono small', render: (p) => list(p.depends) },
            {
              title: 'Views',
              render: (p) =>
                p.views && p.views.length ? (
                  <span class="tags">
                    {p.views.map((v) => (
                      <span class="tag">
                        <Icon name={v.icon} size={14} /> {v.title} <span class="muted">({v.scope})</span>
                      </span>
                    ))}
                  </span>
                ) : (
                  '—'
                ),
            },
          ]}
        />
      )}
    </section>
  );
}
