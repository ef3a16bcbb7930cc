import { useState } from 'preact/hooks';
import { ADMIN, appPath, request, requestAll } from '../../api';
import { useLoad } from '../../hooks';
import { useSession } from '../../session';
import type { Page } from '../../types';
import { ConfirmDialog, Dialog, ErrorBanner, Field, Icon, Table, TextField, fieldError } from '../../ui';
import { formatTime } from '../../format';
import type { AppCtx } from '../AppPage';

interface Member {
  user_id: string;
  username: string;
  role: 'viewer' | 'editor' | 'admin';
  created_at: string;
}

const ROLES = ['viewer', 'editor', 'admin'] as const;

const loadAll = (app: string) => requestAll<Member>(appPath(app, '/members'));

export function Members({ ctx }: { ctx: AppCtx }) {
  const { me } = useSession();
  const canManage = ctx.can('app_admin');
  const list = useLoad(() => loadAll(ctx.app.id), [ctx.app.id]);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<Member | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');

  const setRole = async (m: Member, role: string) => {
    setError(null);
    try {
      await request('PUT', appPath(ctx.app.id, `/members/${encodeURIComponent(m.user_id)}`), { body: { role } });
      setStatus(`${m.username} is now ${role}.`);
      await list.reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div class="stack">
      <div class="toolbar">
        <h2>Members</h2>
        {canManage && (
          <button type="button" class="btn btn-primary" onClick={() => setAdding(true)}>
            <Icon name="plus" size={16} />
            Add member
          </button>
        )}
      </div>
      <p class="muted small">Instance owners act as admin in every app without being members.</p>
      {list.error != null && <ErrorBanner error={list.error} title="Could not load the members" onRetry={list.reload} />}
      {error != null && <ErrorBanner error={error} onDismiss={() => setError(null)} />}
      <p class="live-status" role="status" aria-live="polite">
        {status}
      </p>
      <Table<Member>
        caption="Members"
        rows={list.data}
        rowKey={(m) => m.user_id}
        empty="No members yet."
        columns={[
          { title: 'User', render: (m) => <strong>{m.username}</strong> },
          {
            title: 'Role',
            render: (m) =>
              canManage ? (
                <select aria-label={`Role of ${m.username}`} value={m.role} onChange={(e) => void setRole(m, e.currentTarget.value)}>
                  {ROLES.map((r) => (
                    <option value={r}>{r}</option>
                  ))}
                </select>
              ) : (
                <span class={`badge badge-role-${m.role}`}>{m.role}</span>
              ),
          },
          { title: 'Member since', render: (m) => formatTime(m.created_at) },
          ...(canManage
            ? [
                {
                  title: 'Actions',
                  class: 'actions',
                  render: (m: Member) => (
                    <button type="button" class="btn btn-small btn-ghost-danger" aria-label={`Remove ${m.username}`} onClick={() => setRemoving(m)}>
                      Remove
                    </button>
                  ),
                },
              ]
            : []),
        ]}
      />
      {adding && (
        <AddMember
          app={ctx.app.id}
          owner={me.owner}
          onClose={() => setAdding(false)}
          onAdded={(name) => {
            setAdding(false);
            setStatus(`${name} added.`);
            void list.reload();
          }}
        />
      )}
      <ConfirmDialog
        open={removing != null}
        title="Remove member?"
        message={<p>{removing?.username} will no longer have access to this app.</p>}
        confirmLabel="Remove"
        danger
        onCancel={() => setRemoving(null)}
        onConfirm={async () => {
          const m = removing!;
          await request('DELETE', appPath(ctx.app.id, `/members/${encodeURIComponent(m.user_id)}`));
          setRemoving(null);
          setStatus(`${m.username} removed.`);
          await list.reload();
        }}
      />
    </div>
  );
}

function AddMember(props: { app: string; owner: boolean; onClose: () => void; onAdded: (name: string) => void }) {
  const [user, setUser] = useState('');
  const [role, setRole] = useState('viewer');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // Owners can list the users to pick from; app admins type the user name.
  const users = useLoad(
    () => (props.owner ? request<Page<{ id: string; username: string }>>('GET', `${ADMIN}/users`, { query: { limit: 200 } }) : Promise.resolve(null)),
    [],
  );
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await request('PUT', appPath(props.app, `/members/${encodeURIComponent(user.trim())}`), { body: { role } });
      props.onAdded(user.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open title="Add member" onClose={props.onClose}>
      <form class="form" onSubmit={submit}>
        {error != null && <ErrorBanner error={error} />}
        <TextField
          label="Username"
          value={user}
          onValue={setUser}
          required
          autofocus
          list="member-users"
          autocomplete="off"
          spellcheck={false}
          hint="The user's name or id."
          error={fieldError(error, 'user')}
        />
        {users.data && (
          <datalist id="member-users">
            {users.data.items.map((u) => (
              <option value={u.username} />
            ))}
          </datalist>
        )}
        <Field label="Role" hint="viewer sees; editor also writes scripts, routes, triggers and dead letters; admin also manages settings and members.">
          {(a) => (
            <select {...a} value={role} onChange={(e) => setRole(e.currentTarget.value)}>
              {ROLES.map((r) => (
                <option value={r}>{r}</option>
              ))}
            </select>
          )}
        </Field>
        <div class="form-actions">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            Add member
          </button>
        </div>
      </form>
    </Dialog>
  );
}
