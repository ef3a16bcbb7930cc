import { useState } from 'preact/hooks';
import { ADMIN, request, requestAll } from '../api';
import { useLoad, useTitle } from '../hooks';
import { useSession } from '../session';
import { ConfirmDialog, Dialog, ErrorBanner, Icon, Table, TextField, fieldError } from '../ui';
import { formatTime } from '../format';

interface User {
  id: string;
  username: string;
  owner: boolean;
  created_at: string;
}

const loadAll = () => requestAll<User>(`${ADMIN}/users`);

export function Users() {
  useTitle('Users');
  const { me, refresh } = useSession();
  const list = useLoad(loadAll, []);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<User | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);
  const [status, setStatus] = useState('');

  if (!me.owner) {
    return (
      <section class="page">
        <h1>Users</h1>
        <p>Only instance owners manage users.</p>
      </section>
    );
  }

  return (
    <section class="page">
      <header class="page-head">
        <h1>Users</h1>
        <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>
          <Icon name="plus" size={16} />
          New user
        </button>
      </header>
      {list.error != null && <ErrorBanner error={list.error} title="Could not load the users" onRetry={list.reload} />}
      <p class="live-status" role="status" aria-live="polite">
        {status}
      </p>
      <Table<User>
        caption="Users"
        rows={list.data}
        rowKey={(u) => u.id}
        columns={[
          {
            title: 'User name',
            render: (u) => (
              <strong>
                {u.username}
                {u.id === me.id && <span class="muted"> (you)</span>}
              </strong>
            ),
          },
          { title: 'Owner', render: (u) => (u.owner ? <span class="badge badge-info">owner</span> : <span class="muted">no</span>) },
          { title: 'Created', render: (u) => formatTime(u.created_at) },
          {
            title: 'Actions',
            class: 'actions',
            render: (u) => (
              <>
                <button type="button" class="btn btn-small" aria-label={`Edit ${u.username}`} onClick={() => setEditing(u)}>
                  Edit
                </button>
                {u.id !== me.id && (
                  <button type="button" class="btn btn-small btn-ghost-danger" aria-label={`Delete ${u.username}`} onClick={() => setDeleting(u)}>
                    Delete
                  </button>
                )}
              </>
            ),
          },
        ]}
      />
      {creating && (
        <UserForm
          onClose={() => setCreating(false)}
          onSaved={(u) => {
            setCreating(false);
            setStatus(`User ${u.username} created.`);
            void list.reload();
          }}
        />
      )}
      {editing && (
        <UserForm
          user={editing}
          onClose={() => setEditing(null)}
          onSaved={(u) => {
            setEditing(null);
            setStatus(`User ${u.username} saved.`);
            void list.reload();
            if (u.id === me.id) void refresh();
          }}
        />
      )}
      <ConfirmDialog
        open={deleting != null}
        title={`Delete ${deleting?.username}?`}
        message={<p>The user is deleted with their sessions, API keys and app memberships.</p>}
        confirmLabel="Delete user"
        danger
        onCancel={() => setDeleting(null)}
        onConfirm={async () => {
          const u = deleting!;
          await request('DELETE', `${ADMIN}/users/${encodeURIComponent(u.id)}`);
          setDeleting(null);
          setStatus(`User ${u.username} deleted.`);
          await list.reload();
        }}
      />
    </section>
  );
}

function UserForm(props: { user?: User; onClose: () => void; onSaved: (u: User) => void }) {
  const u = props.user;
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [owner, setOwner] = useState(u?.owner ?? false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      let saved: User;
      if (u) {
        const body: Record<string, unknown> = {};
        if (password) body.password = password;
        if (owner !== u.owner) body.owner = owner;
        if (Object.keys(body).length === 0) {
          props.onClose();
          return;
        }
        saved = await request<User>('PATCH', `${ADMIN}/users/${encodeURIComponent(u.id)}`, { body });
      } else {
        saved = await request<User>('POST', `${ADMIN}/users`, { body: { username: username.trim(), password, owner } });
      }
      props.onSaved(saved ?? { ...u!, owner });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open title={u ? `Edit ${u.username}` : 'New user'} onClose={props.onClose}>
      <form class="form" onSubmit={submit}>
        {error != null && !fieldError(error, 'username') && !fieldError(error, 'password') && <ErrorBanner error={error} />}
        {!u && (
          <TextField
            label="Username"
            value={username}
            onValue={setUsername}
            required
            autofocus
            autocomplete="off"
            spellcheck={false}
            hint="2 to 64 letters, digits, '.', '_', '-' and '@'; stored in lower case."
            error={fieldError(error, 'username')}
          />
        )}
        <TextField
          label={u ? 'New password' : 'Password'}
          type="password"
          value={password}
          onValue={setPassword}
          required={!u}
          autocomplete="new-password"
          minLength={12}
          hint={u ? 'Leave empty to keep it. A new password ends all of the user’s sessions.' : 'At least 12 characters; common and simple passwords are refused.'}
          error={fieldError(error, 'password')}
        />
        <label class="check">
          <input type="checkbox" checked={owner} onChange={(e) => setOwner(e.currentTarget.checked)} />
          Instance owner (may do everything, including managing users)
        </label>
        <div class="form-actions">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {u ? 'Save user' : 'Create user'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
