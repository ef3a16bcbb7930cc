import { useEffect, useState } from 'preact/hooks';
import { appPath, request } from '../../api';
import { navigate } from '../../router';
import type { App } from '../../types';
import { ConfirmDialog, ErrorBanner, Field, TextField, fieldError } from '../../ui';
import { formatTime } from '../../format';
import type { AppCtx } from '../AppPage';

const lines = (xs: string[]) => xs.join('\n');
const parseLines = (s: string) =>
  s
    .split(/[\n,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

export function Overview({ ctx }: { ctx: AppCtx }) {
  const { app } = ctx;
  const canEdit = ctx.can('app_admin');
  const [name, setName] = useState(app.name);
  const [slug, setSlug] = useState(app.slug);
  const [description, setDescription] = useState(app.description);
  const [hostnames, setHostnames] = useState(lines(app.hostnames));
  const [cors, setCors] = useState(lines(app.cors_origins));
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const [deleting, setDeleting] = useState(false);

  useEffect(() => {
    setName(app.name);
    setSlug(app.slug);
    setDescription(app.description);
    setHostnames(lines(app.hostnames));
    setCors(lines(app.cors_origins));
  }, [app]);

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setStatus('');
    try {
      const body: Record<string, unknown> = {};
      if (name !== app.name) body.name = name.trim();
      if (slug !== app.slug) body.slug = slug.trim();
      if (description !== app.description) body.description = description;
      const hs = parseLines(hostnames);
      if (lines(hs) !== lines(app.hostnames)) body.hostnames = hs;
      const cs = parseLines(cors);
      if (lines(cs) !== lines(app.cors_origins)) body.cors_origins = cs;
      if (Object.keys(body).length === 0) {
        setStatus('Nothing to save.');
        return;
      }
      const updated = await request<App>('PATCH', appPath(app.id), { body });
      setStatus('Settings saved.');
      if (updated.slug !== app.slug) navigate(`/apps/${updated.slug}`, { replace: true });
      else await ctx.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const known = ['name', 'slug', 'description', 'hostnames', 'cors_origins'];
  const generalError = error != null && !known.some((f) => fieldError(error, f));

  return (
    <div class="stack">
      <dl class="facts">
        <div>
          <dt>App id</dt>
          <dd class="mono">{app.id}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatTime(app.created_at)}</dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd>{formatTime(app.updated_at)}</dd>
        </div>
      </dl>
      {!canEdit && (
        <section class="card" aria-labelledby="settings-title">
          <h2 id="settings-title">Settings</h2>
          <dl class="facts facts-stacked">
            <div>
              <dt>Description</dt>
              <dd>{app.description || <span class="muted">none</span>}</dd>
            </div>
            <div>
              <dt>Hostnames</dt>
              <dd class="mono">{app.hostnames.length ? app.hostnames.join(', ') : <span class="muted">none</span>}</dd>
            </div>
            <div>
              <dt>CORS origins</dt>
              <dd class="mono">{app.cors_origins.length ? app.cors_origins.join(', ') : <span class="muted">none</span>}</dd>
            </div>
          </dl>
          <p class="muted small">Only the app's admins can change its settings.</p>
        </section>
      )}
      {canEdit && (
        <form class="card form" onSubmit={save} aria-labelledby="settings-title">
          <h2 id="settings-title">Settings</h2>
          {generalError && <ErrorBanner error={error} title="Could not save the settings" />}
          <fieldset class="plain">
            <div class="grid-2">
              <TextField label="Name" value={name} onValue={setName} required error={fieldError(error, 'name')} />
              <TextField
                label="Slug"
                value={slug}
                onValue={setSlug}
                required
                spellcheck={false}
                error={fieldError(error, 'slug')}
                hint="Changing it changes the dashboard's and the API's URLs for this app."
              />
            </div>
            <Field label="Description" error={fieldError(error, 'description')}>
              {(a) => <textarea {...a} rows={2} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}
            </Field>
            <Field label="Hostnames" hint="One per line. Requests whose Host is one of these reach this app." error={fieldError(error, 'hostnames')}>
              {(a) => <textarea {...a} class="mono" rows={3} spellcheck={false} value={hostnames} onInput={(e) => setHostnames(e.currentTarget.value)} />}
            </Field>
            <Field
              label="CORS origins"
              hint="One per line, e.g. https://myapp.example.com, or * for any origin. Pages of these origins may call the app from a browser."
              error={fieldError(error, 'cors_origins')}
            >
              {(a) => <textarea {...a} class="mono" rows={3} spellcheck={false} value={cors} onInput={(e) => setCors(e.currentTarget.value)} />}
            </Field>
          </fieldset>
          <div class="form-actions">
            <p class="live-status" role="status" aria-live="polite">
              {status}
            </p>
            <button type="submit" class="btn btn-primary" disabled={busy}>
              Save
            </button>
          </div>
        </form>
      )}
      {canEdit && (
        <section class="card danger-zone" aria-labelledby="danger-title">
          <h2 id="danger-title">Delete this app</h2>
          <p>Deletes the app with its hostnames, members, scripts, routes, triggers and execution logs. There is no undo.</p>
          <button type="button" class="btn btn-danger" onClick={() => setDeleting(true)}>
            Delete app
          </button>
        </section>
      )}
      <ConfirmDialog
        open={deleting}
        title={`Delete ${app.name}?`}
        message={
          <p>
            The app <strong>{app.slug}</strong> and everything in it will be deleted. There is no undo.
          </p>
        }
        confirmLabel="Delete app"
        danger
        onCancel={() => setDeleting(false)}
        onConfirm={async () => {
          await request('DELETE', appPath(app.id));
          setDeleting(false);
          navigate('/');
        }}
      />
    </div>
  );
}
