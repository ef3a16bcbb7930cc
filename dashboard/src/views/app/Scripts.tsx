import { useState } from 'preact/hooks';
import { appPath, request, requestAll } from '../../api';
import { useLoad } from '../../hooks';
import { navigate } from '../../router';
import { Dialog, ErrorBanner, Field, Icon, Link, Table, TextField, fieldError } from '../../ui';
import { formatRelative, formatTime } from '../../format';
import type { AppCtx } from '../AppPage';
import { CompileErrors, isCompileError } from './CompileErrors';

export interface Script {
  id: string;
  name: string;
  kind: 'endpoint' | 'module';
  version: number;
  imports: string[];
  source?: string;
  created_at: string;
  updated_at: string;
}

export const loadAllScripts = (app: string, kind?: string) => requestAll<Script>(appPath(app, '/scripts'), { kind });

const TEMPLATES = {
  endpoint: 'void handle(request@ req, response@ res) {\n  res.text("Hello from $NAME");\n}\n',
  module: '// A module: other scripts of this app use it with  import "$NAME";\nstring greeting(const string &in name) {\n  return "Hello, " + name + "!";\n}\n',
};

export function Scripts({ ctx }: { ctx: AppCtx }) {
  const canWrite = ctx.can('app_editor');
  const [kind, setKind] = useState('');
  const list = useLoad(() => loadAllScripts(ctx.app.id, kind || undefined), [ctx.app.id, kind]);
  const [creating, setCreating] = useState(false);
  const base = `/apps/${ctx.app.slug}/scripts`;

  return (
    <div class="stack">
      <div class="toolbar">
        <h2>Scripts</h2>
        <div class="toolbar-right">
          <label class="inline-field">
            <span>Kind</span>
            <select value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
              <option value="">all</option>
              <option value="endpoint">endpoints</option>
              <option value="module">modules</option>
            </select>
          </label>
          {canWrite && (
            <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>
              <Icon name="plus" size={16} />
              New script
            </button>
          )}
        </div>
      </div>
      {list.error != null && <ErrorBanner error={list.error} title="Could not load the scripts" onRetry={list.reload} />}
      <Table<Script>
        caption="Scripts"
        rows={list.data}
        rowKey={(s) => s.id}
        empty={canWrite ? 'No scripts yet. Create one with “New script”.' : 'No scripts yet.'}
        columns={[
          { title: 'Name', render: (s) => <Link to={`${base}/${encodeURIComponent(s.name)}`} class="mono strong">{s.name}</Link> },
          { title: 'Kind', render: (s) => <span class={`badge ${s.kind === 'module' ? 'badge-muted' : 'badge-info'}`}>{s.kind}</span> },
          { title: 'Version', class: 'num', render: (s) => s.version },
          { title: 'Imports', render: (s) => (s.imports?.length ? <span class="mono small">{s.imports.join(', ')}</span> : <span class="muted">—</span>) },
          { title: 'Updated', render: (s) => <time title={formatTime(s.updated_at)} dateTime={s.updated_at}>{formatRelative(s.updated_at)}</time> },
        ]}
      />
      {creating && <NewScript ctx={ctx} onClose={() => setCreating(false)} />}
    </div>
  );
}

function NewScript({ ctx, onClose }: { ctx: AppCtx; onClose: () => void }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'endpoint' | 'module'>('endpoint');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const n = name.trim();
      const s = await request<Script>('POST', appPath(ctx.app.id, '/scripts'), {
        body: { name: n, kind, source: TEMPLATES[kind].replace('$NAME', n) },
      });
      onClose();
      navigate(`/apps/${ctx.app.slug}/scripts/${encodeURIComponent(s.name)}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open title="New script" onClose={onClose}>
      <form class="form" onSubmit={submit}>
        {error != null && !fieldError(error, 'name') && !isCompileError(error) && <ErrorBanner error={error} />}
        <CompileErrors error={error} />
        <TextField
          label="Script name"
          value={name}
          onValue={setName}
          required
          autofocus
          pattern="[A-Za-z_][A-Za-z0-9_]{0,63}"
          spellcheck={false}
          autocomplete="off"
          hint="An identifier: a letter or _, then letters, digits and _ (modules are imported by name)."
          error={fieldError(error, 'name')}
        />
        <Field label="Kind" hint="An endpoint has handle() and/or on_event(); a module is a library other scripts import.">
          {(a) => (
            <select {...a} value={kind} onChange={(e) => setKind(e.currentTarget.value as 'endpoint' | 'module')}>
              <option value="endpoint">endpoint</option>
              <option value="module">module</option>
            </select>
          )}
        </Field>
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            Create script
          </button>
        </div>
      </form>
    </Dialog>
  );
}
