import { useEffect, useState } from 'preact/hooks';
import { ADMIN, appPath, request } from '../api';
import { useLoad, useTitle } from '../hooks';
import { navigate } from '../router';
import { useSession } from '../session';
import type { App, Page } from '../types';
import { Dialog, ErrorBanner, Icon, Link, Table, TextField, fieldError } from '../ui';

function DeadLetterBadge({ app }: { app: App }) {
  const [n, setN] = useState<number | null>(null);
  useEffect(() => {
    let alive = true;
    request<{ unresolved: number }>('GET', appPath(app.id, '/dead_letters/count'))
      .then((r) => alive && setN(r.unresolved))
      .catch(() => alive && setN(null));
    return () => {
      alive = false;
    };
  }, [app.id]);
  if (!n) return null;
  return (
    <Link
      to={`/apps/${app.slug}/dead-letters`}
      class="badge badge-danger"
      title={`${n} unresolved dead letter${n === 1 ? '' : 's'}`}
      aria-label={`${n} unresolved dead letter${n === 1 ? '' : 's'} in ${app.name}`}
    >
      {n}
    </Link>
  );
}

export function AppsList() {
  useTitle('Apps');
  const { me } = useSession();
  const [creating, setCreating] = useState(false);
  const [more, setMore] = useState<{ items: App[]; cursor: string | null }>({ items: [], cursor: null });
  const list = useLoad(() => request<Page<App>>('GET', `${ADMIN}/apps`, { query: { limit: 100 } }), []);

  useEffect(() => {
    if (list.data) setMore({ items: [], cursor: list.data.next_cursor });
  }, [list.data]);

  const loadMore = async () => {
    if (!more.cursor) return;
    const p = await request<Page<App>>('GET', `${ADMIN}/apps`, { query: { limit: 100, cursor: more.cursor } });
    setMore({ items: [...more.items, ...p.items], cursor: p.next_cursor });
  };

  const rows = list.data ? [...list.data.items, ...more.items] : null;

  return (
    <section class="page">
      <header class="page-head">
        <h1>Apps</h1>
        {me.owner && (
          <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>
            <Icon name="plus" size={16} />
            New app
          </button>
        )}
      </header>
      {list.error != null && <ErrorBanner error={list.error} title="Could not load the apps" onRetry={list.reload} />}
      <Table<App>
        caption="Apps"
        rows={rows}
        rowKey={(a) => a.id}
        empty={me.owner ? 'No apps yet. Create the first one with “New app”.' : 'You are not a member of any app yet.'}
        columns={[
          {
            title: 'Name',
            render: (a) => (
              <span class="cell-title">
                <Link to={`/apps/${a.slug}`}>{a.name}</Link>
                <DeadLetterBadge app={a} />
              </span>
            ),
          },
          { title: 'Slug', class: 'mono', render: (a) => a.slug },
          {
            title: 'Hostnames',
            render: (a) => (a.hostnames.length ? <span class="mono">{a.hostnames.join(', ')}</span> : <span class="muted">none</span>),
          },
          { title: 'Your role', render: (a) => <span class={`badge badge-role-${a.role}`}>{me.owner ? 'owner' : a.role}</span> },
        ]}
      />
      {more.cursor && (
        <button type="button" class="btn" onClick={() => void loadMore()}>
          More
        </button>
      )}
      {creating && <CreateApp onClose={() => setCreating(false)} />}
    </section>
  );
}

function CreateApp({ onClose }: { onClose: () => void }) {
  const [slug, setSlug] = useState('');
  const [name, setName] = useState('');
  const [hostnames, setHostnames] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { slug: slug.trim() };
      if (name.trim()) body.name = name.trim();
      if (description.trim()) body.description = description.trim();
      const hs = splitList(hostnames);
      if (hs.length) body.hostnames = hs;
      const app = await request<App>('POST', `${ADMIN}/apps`, { body });
      onClose();
      navigate(`/apps/${app.slug}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open title="New app" onClose={onClose}>
      <form onSubmit={submit} class="form">
        {error != null && !fieldError(error, 'slug') && !fieldError(error, 'hostnames') && !fieldError(error, 'name') && <ErrorBanner error={error} />}
        <TextField
          label="Slug"
          value={slug}
          onValue={(v) => {
            setSlug(v);
            if (!hostnames || hostnames === `${slug}.localhost`) setHostnames(v ? `${v}.localhost` : '');
          }}
          required
          autofocus
          pattern="[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?"
          hint="1 to 63 lower-case letters, digits and '-'; used in URLs and the API."
          error={fieldError(error, 'slug')}
          autocomplete="off"
          spellcheck={false}
        />
        <TextField label="Name" value={name} onValue={setName} hint="Defaults to the slug." error={fieldError(error, 'name')} />
        <TextField
          label="Hostnames"
          value={hostnames}
          onValue={setHostnames}
          hint="Comma-separated, e.g. shop.localhost, shop.example.com."
          error={fieldError(error, 'hostnames')}
          spellcheck={false}
        />
        <TextField label="Description" value={description} onValue={setDescription} error={fieldError(error, 'description')} />
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            Create app
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function splitList(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}
