// An app's triggers, kind by kind: what each kind is (its description, ops and
// event fields, from GET /trigger-kinds), the app's triggers of that kind, and
// a form to create or change one — the filter's fields generated from the
// schema the kind declares (cron: schedule and a time-zone picker), the script,
// optional retry overrides, enabled. A kind that sets something up for a new
// trigger (an email webhook's secret and URLs) answers it once: it is shown
// once, in a dialog.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ADMIN, ApiError, appPath, request } from '../api';
import { allowed, type Role } from '../access';
import { useSession } from '../session';
import { formatTime } from '../format';
import { ConfirmDialog, Dialog, ErrorBanner, JsonView, LiveStatus, Table } from '../ui';
import { SchemaForm } from '../forms/SchemaForm';
import type { JsonSchema } from '../forms/schema';
import './triggers.css';

export interface TriggersTabProps {
  app: { id: string; slug: string; name: string; role: Role };
}

export interface TriggerKind {
  name: string;
  plugin: string | null;
  description?: string;
  ops?: string[];
  event_fields?: { name: string; meaning: string }[];
  filter_schema?: JsonSchema | null;
}

export interface Trigger {
  id: string;
  app_id: string;
  kind: string;
  script: string;
  script_id: string;
  filter: unknown;
  retry: Record<string, unknown> | null;
  enabled: boolean;
  created_at: string;
  updated_at: string;
  setup?: unknown;
}

type Page<T> = { items: T[]; next_cursor: string | null };

const RETRY: Record<string, JsonSchema> = {
  max_attempts: {
    type: 'integer',
    title: 'Retry: attempts in all',
    minimum: 1,
    maximum: 100,
    description: 'Leave the retry fields empty for the server’s defaults.',
  },
  backoff: { type: 'string', title: 'Retry: backoff', enum: ['exponential', 'linear', 'constant'] },
  base_delay_ms: { type: 'integer', title: 'Retry: first delay (ms)', minimum: 0, maximum: 86400000 },
  jitter: { type: 'number', title: 'Retry: jitter (0 to 1)', minimum: 0, maximum: 1 },
};

/** Reads every page of a list (up to `max` items). */
async function readAll<T>(path: string, query: Record<string, string> = {}, max = 1000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<T> = await request<Page<T>>('GET', path, { query: { ...query, limit: '200', cursor: cursor ?? undefined } });
    out.push(...(page.items ?? []));
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

export function TriggersTab({ app }: TriggersTabProps) {
  const { me } = useSession();
  const canWrite = allowed('app_editor', app.role, me.owner);
  const [kinds, setKinds] = useState<TriggerKind[] | null>(null);
  const [kindsError, setKindsError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  const [selected, setSelected] = useState<string | null>(() => new URLSearchParams(location.search).get('kind'));

  useEffect(() => {
    let alive = true;
    request<{ items: TriggerKind[] }>('GET', `${ADMIN}/trigger-kinds`)
      .then((r) => {
        if (!alive) return;
        const items = Array.isArray(r?.items) ? r.items : [];
        setKinds(items);
        setSelected((s) => (s && items.some((k) => k.name === s) ? s : (items[0]?.name ?? null)));
      })
      .catch((e) => {
        if (!alive) return;
        if (e instanceof ApiError && (e.status === 404 || e.status === 405)) setMissing(true);
        else setKindsError(e);
      });
    return () => {
      alive = false;
    };
  }, []);

  if (missing) {
    return (
      <div class="banner banner-info" role="status">
        This PiCloud server does not list its trigger kinds (<code>GET /api/v1/admin/trigger-kinds</code> is missing), so
        the triggers cannot be shown here. Update the server, or use the admin API directly.
      </div>
    );
  }
  if (kindsError != null) return <ErrorBanner error={kindsError} title="Could not load the trigger kinds" />;
  if (!kinds) {
    return (
      <p class="muted" role="status">
        Loading…
      </p>
    );
  }
  if (kinds.length === 0) return <p>No trigger kinds: no enabled plugin declares one.</p>;
  const kind = kinds.find((k) => k.name === selected) ?? kinds[0];

  return (
    <div class="triggers-tab">
      <nav class="trigger-kinds" aria-label="Trigger kinds">
        <ul>
          {kinds.map((k) => (
            <li key={k.name}>
              <button
                type="button"
                class={`btn btn-small ${k.name === kind.name ? 'btn-primary' : ''}`}
                aria-pressed={k.name === kind.name}
                onClick={() => {
                  setSelected(k.name);
                  const q = new URLSearchParams(location.search);
                  q.set('kind', k.name);
                  history.replaceState(history.state, '', `${location.pathname}?${q}`);
                }}
              >
                {k.name}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <KindPanel key={kind.name} app={app} kind={kind} canWrite={canWrite} />
    </div>
  );
}

function KindInfo({ kind }: { kind: TriggerKind }) {
  return (
    <div class="trigger-kind-info">
      {kind.description && <p>{kind.description}</p>}
      <p class="muted small">
        {kind.plugin ? <>Declared by the plugin {kind.plugin}.</> : <>Built into PiCloud.</>}
        {kind.ops && kind.ops.length > 0 && (
          <>
            {' '}
            Ops: <span class="mono">{kind.ops.join(', ')}</span>.
          </>
        )}
      </p>
      {kind.event_fields && kind.event_fields.length > 0 && (
        <details class="trigger-event-fields">
          <summary>Event fields ({kind.event_fields.length})</summary>
          <dl>
            {kind.event_fields.map((f) => (
              <div key={f.name}>
                <dt class="mono">{f.name}</dt>
                <dd>{f.meaning}</dd>
              </div>
            ))}
          </dl>
        </details>
      )}
    </div>
  );
}

/** The combined schema of the trigger form: script, the kind's filter fields (as "filter.x"), retry, enabled. */
function formSchema(kind: TriggerKind, scripts: string[]): JsonSchema {
  const props: Record<string, JsonSchema> = {
    script: {
      type: 'string',
      title: 'Script',
      enum: scripts,
      description: 'The endpoint script whose on_event() runs.',
    },
  };
  const required = ['script'];
  const fs = kind.filter_schema;
  if (fs && fs.properties && Object.keys(fs.properties).length > 0) {
    // A filter field without a title, or with one of the form's own labels
    // (the dead_letter kind filters on a "Script"), says it is the filter's.
    const own = new Set(['script', 'enabled']);
    for (const [name, s] of Object.entries(fs.properties)) {
      const title = s.title && !own.has(s.title.toLowerCase()) ? s.title : `Filter: ${s.title ?? name}`;
      props[`filter.${name}`] = { ...s, title };
    }
    for (const r of fs.required ?? []) required.push(`filter.${r}`);
  } else if (!fs || !fs.properties) {
    props.filter = {
      format: 'json',
      title: 'Filter (JSON)',
      description: fs?.description ?? 'The kind’s filter as a JSON object; leave empty for none.',
    };
  }
  for (const [name, s] of Object.entries(RETRY)) props[`retry.${name}`] = s;
  props.enabled = { type: 'boolean', title: 'Enabled', default: true };
  return { type: 'object', properties: props, required };
}

/** Form values back into the API's fields. */
function toBody(kind: TriggerKind, values: Record<string, unknown>, had: Trigger | null) {
  const filter: Record<string, unknown> = {};
  const retry: Record<string, unknown> = {};
  let rawFilter: unknown = undefined;
  for (const [k, v] of Object.entries(values)) {
    if (k.startsWith('filter.')) filter[k.slice(7)] = v;
    else if (k.startsWith('retry.')) retry[k.slice(6)] = v;
    else if (k === 'filter') rawFilter = v;
  }
  const body: Record<string, unknown> = { script: values.script, enabled: values.enabled !== false };
  const structured = !!kind.filter_schema?.properties && Object.keys(kind.filter_schema.properties).length > 0;
  if (structured) body.filter = filter;
  else if (rawFilter !== undefined) body.filter = rawFilter;
  else if (!had) body.filter = kind.filter_schema ? {} : null;
  if (Object.keys(retry).length > 0) body.retry = retry;
  else if (had?.retry) body.retry = null; // the overrides were cleared
  return body;
}

function initialValues(t: Trigger): Record<string, unknown> {
  const v: Record<string, unknown> = { script: t.script, enabled: t.enabled };
  if (t.filter && typeof t.filter === 'object' && !Array.isArray(t.filter))
    for (const [k, x] of Object.entries(t.filter as Record<string, unknown>)) v[`filter.${k}`] = x;
  v.filter = t.filter ?? undefined;
  for (const [k, x] of Object.entries(t.retry ?? {})) v[`retry.${k}`] = x;
  return v;
}

function KindPanel({ app, kind, canWrite }: { app: TriggersTabProps['app']; kind: TriggerKind; canWrite: boolean }) {
  const base = appPath(app.id, `/triggers/${encodeURIComponent(kind.name)}`);
  const [triggers, setTriggers] = useState<Trigger[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const [scripts, setScripts] = useState<string[] | null>(null);
  const [editing, setEditing] = useState<Trigger | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Trigger | null>(null);
  const [setup, setSetup] = useState<unknown>(null);

  const load = async () => {
    try {
      const items = await readAll<Trigger>(base);
      setTriggers(items);
      setError(null);
      setStatus(`${items.length} ${kind.name} trigger${items.length === 1 ? '' : 's'}`);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    void load();
  }, [base]);

  const openForm = async (t: Trigger | 'new') => {
    setEditing(t);
    if (scripts === null) {
      try {
        const list = await readAll<{ name: string }>(appPath(app.id, '/scripts'), { kind: 'endpoint' });
        setScripts(list.map((s) => s.name));
      } catch (e) {
        setError(e);
        setEditing(null);
      }
    }
  };

  const toggle = async (t: Trigger, on: boolean) => {
    try {
      const changed = await request<Trigger>('PATCH', `${base}/${encodeURIComponent(t.id)}`, { body: { enabled: on } });
      setTriggers((list) => list?.map((x) => (x.id === t.id ? changed : x)) ?? null);
      setStatus(`Trigger for ${t.script} ${on ? 'enabled' : 'disabled'}`);
    } catch (e) {
      setError(e);
    }
  };

  const scriptNames = useMemo(() => {
    const names = new Set(scripts ?? []);
    if (editing && editing !== 'new') names.add(editing.script);
    return [...names];
  }, [scripts, editing]);

  const columns = [
    { title: 'Script', render: (t: Trigger) => <span class="mono">{t.script}</span> },
    {
      title: 'Filter',
      class: 'mono',
      render: (t: Trigger) => <code>{t.filter === null || t.filter === undefined ? '—' : JSON.stringify(t.filter)}</code>,
    },
    {
      title: 'Retry',
      class: 'mono',
      render: (t: Trigger) => (t.retry ? <code>{JSON.stringify(t.retry)}</code> : <span class="muted">defaults</span>),
    },
    {
      title: 'Enabled',
      render: (t: Trigger) =>
        canWrite ? (
          <input
            type="checkbox"
            checked={t.enabled}
            aria-label={`Enabled: ${kind.name} trigger of ${t.script}`}
            onChange={(e) => toggle(t, (e.currentTarget as HTMLInputElement).checked)}
          />
        ) : t.enabled ? (
          'yes'
        ) : (
          'no'
        ),
    },
    { title: 'Created', render: (t: Trigger) => formatTime(t.created_at) },
  ];
  if (canWrite) {
    columns.push({
      title: 'Actions',
      class: 'actions',
      render: (t: Trigger) => (
        <span class="row-actions">
          <button type="button" class="btn btn-small" aria-label={`Edit the trigger of ${t.script}`} onClick={() => openForm(t)}>
            Edit
          </button>
          <button
            type="button"
            class="btn btn-small btn-danger"
            aria-label={`Delete the trigger of ${t.script}`}
            onClick={() => setDeleting(t)}
          >
            Delete
          </button>
        </span>
      ),
    } as (typeof columns)[number]);
  }

  const submit = async (values: Record<string, unknown>) => {
    const had = editing !== 'new' ? editing : null;
    const body = toBody(kind, values, had);
    if (had) {
      const changed = await request<Trigger>('PATCH', `${base}/${encodeURIComponent(had.id)}`, { body });
      setTriggers((list) => list?.map((x) => (x.id === had.id ? changed : x)) ?? null);
      setStatus(`Trigger for ${changed.script} saved`);
    } else {
      const created = await request<Trigger>('POST', base, { body });
      setStatus(`Trigger for ${created.script} created`);
      if (created.setup !== undefined && created.setup !== null) setSetup(created.setup);
      await load();
    }
    setEditing(null);
  };

  return (
    <section class="trigger-kind" aria-labelledby={`kind-${kind.name}`}>
      <div class="section-head">
        <h3 id={`kind-${kind.name}`}>
          Kind <span class="mono">{kind.name}</span>
        </h3>
        {canWrite && (
          <button type="button" class="btn btn-primary btn-small" onClick={() => openForm('new')}>
            New {kind.name} trigger
          </button>
        )}
      </div>
      <KindInfo kind={kind} />
      {error != null && <ErrorBanner error={error} onDismiss={() => setError(null)} />}
      <Table<Trigger>
        caption={`${kind.name} triggers of ${app.name}`}
        columns={columns}
        rows={triggers}
        rowKey={(t) => t.id}
        empty={`No ${kind.name} triggers yet.`}
      />
      <LiveStatus>{status}</LiveStatus>

      {editing !== null && scripts !== null && (
        <Dialog
          open
          title={editing === 'new' ? `New ${kind.name} trigger` : `Edit the ${kind.name} trigger of ${editing.script}`}
          size="wide"
          onClose={() => setEditing(null)}
        >
          {scriptNames.length === 0 ? (
            <p>This app has no endpoint script yet: write one with an on_event() function first.</p>
          ) : (
            <SchemaForm
              schema={formSchema(kind, scriptNames)}
              initial={editing === 'new' ? undefined : initialValues(editing)}
              submitLabel={editing === 'new' ? 'Create trigger' : 'Save trigger'}
              onSubmit={submit}
              extra={
                <button type="button" class="btn" onClick={() => setEditing(null)}>
                  Cancel
                </button>
              }
            />
          )}
        </Dialog>
      )}

      <ConfirmDialog
        open={deleting !== null}
        title="Delete the trigger"
        message={deleting ? `Delete the ${kind.name} trigger that runs ${deleting.script}? Events will no longer run it.` : ''}
        confirmLabel="Delete"
        danger
        onConfirm={async () => {
          const t = deleting!;
          await request('DELETE', `${base}/${encodeURIComponent(t.id)}`);
          setDeleting(null);
          setStatus(`Trigger for ${t.script} deleted`);
          await load();
        }}
        onCancel={() => setDeleting(null)}
      />

      <Dialog open={setup !== null} title="Set-up of the new trigger" size="wide" onClose={() => setSetup(null)}>
        <p>
          <strong>Shown only this once:</strong> copy what you need (a secret is not kept anywhere it could be read back).
        </p>
        {setup !== null && <JsonView value={setup} label="Set-up" openDepth={3} />}
        <button type="button" class="btn btn-primary" onClick={() => setSetup(null)}>
          Done
        </button>
      </Dialog>
    </section>
  );
}
