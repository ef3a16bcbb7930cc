import { useState } from 'preact/hooks';
import { ADMIN, request, requestAll } from '../api';
import { useLoad, useTitle } from '../hooks';
import { ConfirmDialog, Dialog, ErrorBanner, Field, Icon, Table, TextField, fieldError } from '../ui';
import { formatRelative, formatTime } from '../format';

interface Key {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  status: 'active' | 'expired' | 'revoked';
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  key?: string;
}

const SCOPES: [string, string][] = [
  ['app:read', 'see apps, their hostnames, members and routes'],
  ['app:write', "change apps' settings and their routes"],
  ['app:admin', 'create and delete apps, manage their members'],
  ['script:read', 'read scripts'],
  ['script:write', 'create, change, delete and run scripts'],
  ['logs:read', 'read execution logs'],
  ['users:admin', "manage the instance's users"],
];

const loadAll = () => requestAll<Key>(`${ADMIN}/keys`);

export function Keys() {
  useTitle('API keys');
  const list = useLoad(loadAll, []);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Key | null>(null);
  const [revoking, setRevoking] = useState<Key | null>(null);
  const [status, setStatus] = useState('');

  return (
    <section class="page">
      <header class="page-head">
        <div>
          <h1>API keys</h1>
          <p class="muted">Your keys for tools, scripts and CI. Send one as <code>Authorization: Bearer pcl_…</code>.</p>
        </div>
        <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>
          <Icon name="plus" size={16} />
          New API key
        </button>
      </header>
      {list.error != null && <ErrorBanner error={list.error} title="Could not load your keys" onRetry={list.reload} />}
      <p class="live-status" role="status" aria-live="polite">
        {status}
      </p>
      <Table<Key>
        caption="Your API keys"
        rows={list.data}
        rowKey={(k) => k.id}
        empty="You have no API keys."
        rowClass={(k) => (k.status !== 'active' ? 'row-dim' : undefined)}
        columns={[
          { title: 'Name', render: (k) => <strong>{k.name}</strong> },
          { title: 'Prefix', class: 'mono small', render: (k) => k.prefix },
          {
            title: 'Scopes',
            render: (k) => (
              <span class="tags">
                {k.scopes.map((s) => (
                  <span class="tag">{s}</span>
                ))}
              </span>
            ),
          },
          {
            title: 'Status',
            render: (k) => <span class={`badge ${k.status === 'active' ? 'badge-ok' : k.status === 'revoked' ? 'badge-danger' : 'badge-muted'}`}>{k.status}</span>,
          },
          { title: 'Expires', render: (k) => (k.expires_at ? formatTime(k.expires_at) : <span class="muted">never</span>) },
          { title: 'Last used', render: (k) => (k.last_used_at ? <time title={formatTime(k.last_used_at)}>{formatRelative(k.last_used_at)}</time> : <span class="muted">never</span>) },
          {
            title: 'Actions',
            class: 'actions',
            render: (k) =>
              k.status === 'revoked' ? null : (
                <button type="button" class="btn btn-small btn-ghost-danger" aria-label={`Revoke ${k.name}`} onClick={() => setRevoking(k)}>
                  Revoke
                </button>
              ),
          },
        ]}
      />
      {creating && (
        <NewKey
          onClose={() => setCreating(false)}
          onCreated={(k) => {
            setCreating(false);
            setCreated(k);
            void list.reload();
          }}
        />
      )}
      {created && <ShowKey k={created} onClose={() => setCreated(null)} />}
      <ConfirmDialog
        open={revoking != null}
        title={`Revoke ${revoking?.name}?`}
        message={<p>Tools using this key lose access at once. This cannot be undone.</p>}
        confirmLabel="Revoke key"
        danger
        onCancel={() => setRevoking(null)}
        onConfirm={async () => {
          const k = revoking!;
          await request('DELETE', `${ADMIN}/keys/${encodeURIComponent(k.id)}`);
          setRevoking(null);
          setStatus(`Key ${k.name} revoked.`);
          await list.reload();
        }}
      />
    </section>
  );
}

function NewKey(props: { onClose: () => void; onCreated: (k: Key) => void }) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['app:read', 'script:read', 'logs:read']);
  const [days, setDays] = useState('90');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { name: name.trim(), scopes };
      if (days) body.expires_in_days = Number(days);
      props.onCreated(await request<Key>('POST', `${ADMIN}/keys`, { body }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open title="New API key" onClose={props.onClose}>
      <form class="form" onSubmit={submit}>
        {error != null && !['name', 'scopes', 'expires_in_days'].some((f) => fieldError(error, f)) && <ErrorBanner error={error} />}
        <TextField label="Key name" value={name} onValue={setName} required autofocus maxLength={100} hint="What it is for, e.g. deploy." error={fieldError(error, 'name')} />
        <fieldset class={`field ${fieldError(error, 'scopes') ? 'field-invalid' : ''}`}>
          <legend>Scopes</legend>
          {SCOPES.map(([s, what]) => (
            <label class="check">
              <input type="checkbox" checked={scopes.includes(s)} onChange={() => setScopes(scopes.includes(s) ? scopes.filter((x) => x !== s) : [...scopes, s])} />
              <span>
                <code>{s}</code> <span class="muted small">— {what}</span>
              </span>
            </label>
          ))}
          {fieldError(error, 'scopes') && <p class="field-error">{fieldError(error, 'scopes')}</p>}
          <p class="field-hint">A key never does more than you may do; scopes narrow it further.</p>
        </fieldset>
        <Field label="Expires" error={fieldError(error, 'expires_in_days')}>
          {(a) => (
            <select {...a} value={days} onChange={(e) => setDays(e.currentTarget.value)}>
              <option value="1">in 1 day</option>
              <option value="7">in 7 days</option>
              <option value="30">in 30 days</option>
              <option value="90">in 90 days</option>
              <option value="365">in 1 year</option>
              <option value="">never</option>
            </select>
          )}
        </Field>
        <div class="form-actions">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy || scopes.length === 0}>
            Create key
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function ShowKey({ k, onClose }: { k: Key; onClose: () => void }) {
  const [copied, setCopied] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(k.key ?? '');
      setCopied('Copied to the clipboard.');
    } catch {
      setCopied('The browser refused the clipboard: select the key and copy it.');
    }
  };
  return (
    <Dialog
      open
      title="Your new API key"
      onClose={onClose}
      footer={
        <button type="button" class="btn btn-primary" onClick={onClose}>
          Done
        </button>
      }
    >
      <p>
        <strong>Copy it now: it is shown this once.</strong> PiCloud keeps only a digest; a lost key cannot be shown again.
      </p>
      <div class="secret-box">
        <label for="new-key" class="sr-only">
          API key
        </label>
        <input id="new-key" class="mono" readOnly value={k.key ?? ''} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" class="btn" onClick={() => void copy()} autofocus>
          <Icon name="copy" size={16} />
          Copy
        </button>
      </div>
      <p class="live-status" role="status" aria-live="polite">
        {copied}
      </p>
    </Dialog>
  );
}
