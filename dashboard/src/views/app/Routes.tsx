import { useState } from 'preact/hooks';
import { appPath, request, requestAll } from '../../api';
import { useLoad } from '../../hooks';
import { ConfirmDialog, Dialog, ErrorBanner, Field, Icon, Link, Table, TextField, fieldError } from '../../ui';
import type { AppCtx } from '../AppPage';
import { loadAllScripts } from './Scripts';

interface Route {
  id: string;
  methods: string[];
  path: string;
  script: string;
  script_id: string;
  dispatch: 'sync' | 'async';
  host: string | null;
  created_at: string;
  updated_at: string;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

const loadAll = (app: string) => requestAll<Route>(appPath(app, '/routes'));

export function Routes({ ctx }: { ctx: AppCtx }) {
  const canWrite = ctx.can('app_editor');
  const list = useLoad(() => loadAll(ctx.app.id), [ctx.app.id]);
  const [editing, setEditing] = useState<Route | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Route | null>(null);
  const [status, setStatus] = useState('');
  const host0 = ctx.app.hostnames[0];

  return (
    <div class="stack">
      <div class="toolbar">
        <h2>Routes</h2>
        {canWrite && (
          <button type="button" class="btn btn-primary" onClick={() => setEditing('new')}>
            <Icon name="plus" size={16} />
            New route
          </button>
        )}
      </div>
      {list.error != null && <ErrorBanner error={list.error} title="Could not load the routes" onRetry={list.reload} />}
      <p class="live-status" role="status" aria-live="polite">
        {status}
      </p>
      <Table<Route>
        caption="Routes"
        rows={list.data}
        rowKey={(r) => r.id}
        empty={canWrite ? 'No routes yet. Bind a path to an endpoint script with “New route”.' : 'No routes yet.'}
        columns={[
          {
            title: 'Methods',
            render: (r) => (
              <span class="methods">
                {r.methods.map((m) => (
                  <span class={`method method-${m.toLowerCase() === '*' ? 'any' : m.toLowerCase()}`}>{m === '*' ? 'ANY' : m}</span>
                ))}
              </span>
            ),
          },
          {
            title: 'Path',
            class: 'mono',
            render: (r) => {
              const h = r.host ?? host0;
              return h && !r.path.includes('{') && !r.path.includes('*') ? (
                <a href={`${location.protocol}//${h}${location.port ? ':' + location.port : ''}${r.path}`} target="_blank" rel="noreferrer noopener">
                  {r.path}
                </a>
              ) : (
                r.path
              );
            },
          },
          {
            title: 'Script',
            render: (r) => (
              <Link to={`/apps/${ctx.app.slug}/scripts/${encodeURIComponent(r.script)}`} class="mono">
                {r.script}
              </Link>
            ),
          },
          { title: 'Dispatch', render: (r) => <span class={`badge ${r.dispatch === 'async' ? 'badge-info' : 'badge-muted'}`}>{r.dispatch}</span> },
          { title: 'Host', render: (r) => (r.host ? <span class="mono">{r.host}</span> : <span class="muted">any</span>) },
          ...(canWrite
            ? [
                {
                  title: 'Actions',
                  class: 'actions',
                  render: (r: Route) => (
                    <>
                      <button type="button" class="btn btn-small" aria-label={`Edit route ${r.path}`} onClick={() => setEditing(r)}>
                        Edit
                      </button>
                      <button type="button" class="btn btn-small btn-ghost-danger" aria-label={`Delete route ${r.path}`} onClick={() => setDeleting(r)}>
                        Delete
                      </button>
                    </>
                  ),
                },
              ]
            : []),
        ]}
      />
      {editing && (
        <RouteForm
          ctx={ctx}
          route={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(r, created) => {
            setEditing(null);
            setStatus(`Route ${r.path} ${created ? 'created' : 'saved'}.`);
            void list.reload();
          }}
        />
      )}
      <ConfirmDialog
        open={deleting != null}
        title="Delete route?"
        message={
          <p>
            Requests to <code>{deleting?.path}</code> will no longer run <code>{deleting?.script}</code>.
          </p>
        }
        confirmLabel="Delete route"
        danger
        onCancel={() => setDeleting(null)}
        onConfirm={async () => {
          const r = deleting!;
          await request('DELETE', appPath(ctx.app.id, `/routes/${r.id}`));
          setDeleting(null);
          setStatus(`Route ${r.path} deleted.`);
          await list.reload();
        }}
      />
    </div>
  );
}

function RouteForm(props: { ctx: AppCtx; route: Route | null; onClose: () => void; onSaved: (r: Route, created: boolean) => void }) {
  const { ctx, route } = props;
  const scripts = useLoad(() => loadAllScripts(ctx.app.id, 'endpoint'), [ctx.app.id]);
  const [any, setAny] = useState(route ? route.methods.includes('*') : false);
  const [methods, setMethods] = useState<string[]>(route && !route.methods.includes('*') ? route.methods : ['GET']);
  const [path, setPath] = useState(route?.path ?? '/');
  const [script, setScript] = useState(route?.script ?? '');
  const [dispatch, setDispatch] = useState(route?.dispatch ?? 'sync');
  const [host, setHost] = useState(route?.host ?? '');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const toggle = (m: string) => setMethods(methods.includes(m) ? methods.filter((x) => x !== m) : [...methods, m]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = {
        methods: any ? ['*'] : METHODS.filter((m) => methods.includes(m)),
        path: path.trim(),
        script: script || (scripts.data?.[0]?.name ?? ''),
        dispatch,
        host: host || null,
      };
      const r = route
        ? await request<Route>('PATCH', appPath(ctx.app.id, `/routes/${route.id}`), { body })
        : await request<Route>('POST', appPath(ctx.app.id, '/routes'), { body });
      props.onSaved(r, !route);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const fields = ['methods', 'path', 'script', 'dispatch', 'host'];
  return (
    <Dialog open title={route ? 'Edit route' : 'New route'} onClose={props.onClose}>
      <form class="form" onSubmit={submit}>
        {error != null && !fields.some((f) => fieldError(error, f)) && <ErrorBanner error={error} />}
        <fieldset class={`field ${fieldError(error, 'methods') ? 'field-invalid' : ''}`}>
          <legend>Methods</legend>
          <label class="check">
            <input type="checkbox" checked={any} onChange={(e) => setAny(e.currentTarget.checked)} />
            Any method
          </label>
          <div class="checks" aria-disabled={any}>
            {METHODS.map((m) => (
              <label class="check">
                <input type="checkbox" checked={!any && methods.includes(m)} disabled={any} onChange={() => toggle(m)} />
                {m}
              </label>
            ))}
          </div>
          {fieldError(error, 'methods') && <p class="field-error">{fieldError(error, 'methods')}</p>}
        </fieldset>
        <TextField
          label="Path"
          value={path}
          onValue={setPath}
          required
          class="mono"
          spellcheck={false}
          autofocus
          hint="/a/b exactly, /users/{id} with a parameter, /static/* for everything below."
          error={fieldError(error, 'path')}
        />
        <Field label="Script" error={fieldError(error, 'script')} hint={scripts.data?.length === 0 ? 'The app has no endpoint scripts yet.' : undefined}>
          {(a) => (
            <select {...a} value={script} onChange={(e) => setScript(e.currentTarget.value)} required>
              {!script && <option value="">Choose an endpoint script</option>}
              {(scripts.data ?? []).map((s) => (
                <option value={s.name}>{s.name}</option>
              ))}
              {script && scripts.data && !scripts.data.some((s) => s.name === script) && <option value={script}>{script}</option>}
            </select>
          )}
        </Field>
        <div class="grid-2">
          <Field label="Dispatch" error={fieldError(error, 'dispatch')} hint="sync: the caller waits; async: queued, the caller does not wait.">
            {(a) => (
              <select {...a} value={dispatch} onChange={(e) => setDispatch(e.currentTarget.value as 'sync' | 'async')}>
                <option value="sync">sync</option>
                <option value="async">async</option>
              </select>
            )}
          </Field>
          <Field label="Host" error={fieldError(error, 'host')} hint="Only requests to this hostname, or any of the app's.">
            {(a) => (
              <select {...a} value={host} onChange={(e) => setHost(e.currentTarget.value)}>
                <option value="">any hostname</option>
                {ctx.app.hostnames.map((h) => (
                  <option value={h}>{h}</option>
                ))}
                {host && !ctx.app.hostnames.includes(host) && <option value={host}>{host}</option>}
              </select>
            )}
          </Field>
        </div>
        <div class="form-actions">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {route ? 'Save route' : 'Create route'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
