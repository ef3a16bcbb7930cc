// A plugin's admin view, drawn from what the plugin declared (GET /plugins):
// tables with their inputs, paging, row actions and a create form; forms;
// JSON panels; or the plugin's own ES module mounted into the page. Nothing
// here names a plugin. An action whose route needs more than the user's role
// in the app is not drawn at all; the API refuses it anyway.
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { request, errorMessage } from '../api';
import { useSession } from '../session';
import type { View } from '../types';
import type { Role } from '../access';
import { formatCell } from '../format';
import { ConfirmDialog, Dialog, ErrorBanner, JsonView, LiveStatus, Table } from '../ui';
import { SchemaForm } from '../forms/SchemaForm';
import { collect, initialState, type JsonSchema } from '../forms/schema';
import {
  buildCall,
  canUse,
  fillRoute,
  fillText,
  splitTemplate,
  type AppContext,
  type RouteLevel,
  type Sources,
} from './routes';
import './views.css';

export interface PluginViewPageProps {
  plugin: string;
  view: View;
  app: { id: string; slug: string; name: string; role: Role } | null;
}

type Row = Record<string, unknown>;
type Result = 'refresh' | 'show' | 'download';

interface ColumnDecl {
  field: string;
  title?: string;
  format?: 'text' | 'json' | 'time' | 'bytes' | 'bool';
}

interface ActionDecl {
  id: string;
  title: string;
  route: string;
  confirm?: string;
  danger?: boolean;
  result?: Result;
  schema?: JsonSchema;
}

interface TableDecl {
  kind: 'table';
  id: string;
  title?: string;
  description?: string;
  params?: JsonSchema;
  list: string;
  items?: string;
  columns?: ColumnDecl[];
  open?: string;
  row_actions?: ActionDecl[];
  create?: { title?: string; route: string; schema?: JsonSchema; confirm?: string; result?: Result };
}

interface FormDecl {
  kind: 'form';
  id: string;
  title?: string;
  description?: string;
  route: string;
  schema?: JsonSchema;
  confirm?: string;
  danger?: boolean;
  result?: Result;
  submit?: string;
}

interface JsonDecl {
  kind: 'json';
  id: string;
  title?: string;
  description?: string;
  source: string;
}

type SectionDecl = TableDecl | FormDecl | JsonDecl;

/** What every section needs: who is looking, at which app, and the view's route levels. */
interface Ctx {
  app: AppContext | null;
  /** The heading level of sections: 3 under an app's page, 2 on a page of their own. */
  level: 2 | 3;
  owner: boolean;
  routes: Record<string, RouteLevel> | undefined;
  can(template: string | undefined): boolean;
  /** Asks for a confirmation in a dialog; resolves true when confirmed. */
  confirm(text: string, label: string, danger: boolean): Promise<boolean>;
  /** Shows an answer as JSON in a dialog. */
  show(title: string, value: unknown): void;
  /** Goes up after every change made through the view: its tables read again. */
  generation: number;
  changed(): void;
  /**
   * Inputs the sections have in common (docs' collection in its documents,
   * query and indexes): given in one section, they fill the others.
   */
  shared: Record<string, unknown>;
  share(values: Record<string, unknown>): void;
}

const EMPTY_SCHEMA: JsonSchema = { type: 'object', properties: {} };

export function PluginViewPage({ plugin, view, app }: PluginViewPageProps) {
  // A new view or app starts from scratch: no inputs, pages or dialogs carried over.
  return <ViewBody key={`${plugin}/${view.id}/${app?.id ?? ''}`} plugin={plugin} view={view} app={app} />;
}

function ViewBody({ plugin, view, app }: PluginViewPageProps) {
  const { me } = useSession();
  const [asking, setAsking] = useState<{ text: string; label: string; danger: boolean; done(ok: boolean): void } | null>(
    null,
  );
  const [shown, setShown] = useState<{ title: string; value: unknown } | null>(null);
  const [generation, setGeneration] = useState(0);
  const [shared, setShared] = useState<Record<string, unknown>>({});
  const appCtx: AppContext | null = app ? { id: app.id, slug: app.slug, name: app.name, role: app.role } : null;
  const routes = view.routes as Record<string, RouteLevel> | undefined;
  const ctx: Ctx = {
    app: appCtx,
    level: app ? 3 : 2,
    owner: me.owner,
    routes,
    can: (t) => !!t && canUse(routes, t, appCtx, me.owner),
    confirm: (text, label, danger) =>
      new Promise<boolean>((done) => setAsking({ text, label, danger, done })),
    show: (title, value) => setShown({ title, value }),
    generation,
    changed: () => setGeneration((g) => g + 1),
    shared,
    share: (values) => {
      const plain = Object.entries(values).filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v) && v !== '');
      if (plain.length === 0) return;
      setShared((prev) => {
        const next = { ...prev, ...Object.fromEntries(plain) };
        return JSON.stringify(next) === JSON.stringify(prev) ? prev : next;
      });
    },
  };
  const sections = (Array.isArray(view.sections) ? view.sections : []) as SectionDecl[];

  return (
    <div class="plugin-view" data-plugin={plugin}>
      {/* Under an app the page around names the view (h2); alone, the view is the page (h1). */}
      {app ? (
        view.description && <p class="page-description">{view.description}</p>
      ) : (
        <header class="page-head">
          <h1>{view.title}</h1>
          {view.description && <p class="page-description">{view.description}</p>}
        </header>
      )}
      {view.module && <ModuleView view={view} ctx={ctx} user={me} />}
      {sections.map((s) => {
        switch (s.kind) {
          case 'table':
            return <TableSection key={s.id} s={s} ctx={ctx} />;
          case 'form':
            return <FormSection key={s.id} s={s} ctx={ctx} />;
          case 'json':
            return <JsonSection key={s.id} s={s} ctx={ctx} />;
          default:
            return null;
        }
      })}
      <ConfirmDialog
        open={asking !== null}
        title={asking?.label ?? ''}
        message={asking?.text ?? ''}
        confirmLabel={asking?.label}
        danger={asking?.danger}
        onConfirm={() => {
          asking?.done(true);
          setAsking(null);
        }}
        onCancel={() => {
          asking?.done(false);
          setAsking(null);
        }}
      />
      <Dialog open={shown !== null} title={shown?.title ?? ''} size="wide" onClose={() => setShown(null)}>
        {shown && <JsonView value={shown.value} label={shown.title} openDepth={3} />}
      </Dialog>
    </div>
  );
}

function Heading({ level, id, text }: { level: 2 | 3; id: string; text: string }) {
  return level === 2 ? <h2 id={id}>{text}</h2> : <h3 id={id}>{text}</h3>;
}

function Section(props: { s: SectionDecl; level: 2 | 3; actions?: ComponentChildren; children: ComponentChildren }) {
  const titleId = `section-${props.s.id}`;
  return (
    <section class="plugin-section" aria-labelledby={props.s.title ? titleId : undefined}>
      {(props.s.title || props.actions) && (
        <div class="section-head">
          {props.s.title && <Heading level={props.level} id={titleId} text={props.s.title} />}
          {props.actions && <div class="section-actions">{props.actions}</div>}
        </div>
      )}
      {props.s.description && <p class="section-description">{props.s.description}</p>}
      {props.children}
    </section>
  );
}

/** Calls a route of the view and handles its result: the answer, shown or saved as a file. */
async function perform(
  template: string,
  src: Sources,
  result: Result,
  title: string,
  ctx: Ctx,
): Promise<unknown> {
  const call = buildCall(template, src);
  if (result === 'download') {
    const blob = await request<Blob>(call.method, call.path, {
      query: call.query,
      body: call.body,
      raw: call.raw,
      accept: 'blob',
    });
    saveFile(blob, downloadName(src, call.path));
    return null;
  }
  const answer = await request(call.method, call.path, { query: call.query, body: call.body, raw: call.raw });
  if (result === 'show') ctx.show(title, answer);
  return answer;
}

function downloadName(src: Sources, path: string): string {
  for (const s of [src.values, src.row, src.params]) {
    for (const k of ['filename', 'name', 'path', 'key']) {
      const v = s?.[k];
      if (typeof v === 'string' && v) return v.split('/').pop() || v;
    }
  }
  const last = path.split('?')[0].split('/').pop() ?? 'download';
  return decodeURIComponent(last) || 'download';
}

function saveFile(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A table's inputs from `given` and the defaults, or null while a required one has no value. */
function startingParams(schema: JsonSchema | undefined, given?: Record<string, unknown>): Record<string, unknown> | null {
  if (!schema) return {};
  const { values, errors } = collect(schema, initialState(schema, given));
  return Object.keys(errors).length ? null : values;
}

/** The shared inputs that are properties of `schema`. */
function pick(schema: JsonSchema | undefined, shared: Record<string, unknown>): Record<string, unknown> {
  const props = schema?.properties ?? {};
  return Object.fromEntries(Object.entries(shared).filter(([k]) => k in props));
}

function rowLabel(row: Row, columns: ColumnDecl[]): string {
  const first = columns[0]?.field;
  const v = first ? row[first] : undefined;
  if (v !== undefined && v !== null) return typeof v === 'object' ? JSON.stringify(v) : String(v);
  for (const k of ['name', 'key', 'id']) if (row[k] !== undefined) return String(row[k]);
  return '';
}

function TableSection({ s, ctx }: { s: TableDecl; ctx: Ctx }) {
  const [params, setParams] = useState<Record<string, unknown> | null>(() =>
    startingParams(s.params, pick(s.params, ctx.shared)),
  );
  // Inputs given in another section of the view (the same collection) apply here too.
  useEffect(() => {
    const mine = pick(s.params, ctx.shared);
    if (Object.keys(mine).length === 0) return;
    setParams((prev) => {
      const next = startingParams(s.params, { ...(prev ?? {}), ...mine });
      return JSON.stringify(next) === JSON.stringify(prev) ? prev : next;
    });
  }, [ctx.shared]);
  const [rows, setRows] = useState<Row[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [status, setStatus] = useState('');
  const [form, setForm] = useState<{ kind: 'create' } | { kind: 'action'; action: ActionDecl; row: Row } | null>(null);
  const seq = useRef(0);

  const columns: ColumnDecl[] = useMemo(() => {
    if (s.columns?.length) return s.columns;
    const first = rows?.[0];
    return first ? Object.keys(first).map((field) => ({ field })) : [];
  }, [s.columns, rows]);

  const load = async (p: Record<string, unknown> | null, after: string | null) => {
    if (!p) return;
    const n = ++seq.current;
    setLoading(true);
    try {
      const filled = fillRoute(s.list, { app: ctx.app, params: p });
      const query: Record<string, string> = {};
      for (const [k, v] of Object.entries(p))
        if (!filled.usedParams.has(k) && v !== undefined && v !== '') query[k] = String(v);
      if (after) query.cursor = after;
      const answer = await request<Record<string, unknown>>('GET', filled.path, { query });
      if (n !== seq.current) return;
      const items = answer?.[s.items ?? 'items'];
      const list = Array.isArray(items) ? (items as Row[]) : [];
      setRows((prev) => (after && prev ? [...prev, ...list] : list));
      setCursor(typeof answer?.next_cursor === 'string' ? answer.next_cursor : null);
      setError(null);
      setStatus(`${after ? 'More loaded' : 'Loaded'}: ${list.length} row${list.length === 1 ? '' : 's'}`);
    } catch (e) {
      if (n === seq.current) setError(e);
    } finally {
      if (n === seq.current) setLoading(false);
    }
  };

  useEffect(() => {
    if (ctx.can(s.list)) void load(params, null);
  }, [params, ctx.generation]);

  if (!ctx.can(s.list)) return null;
  const refresh = () => load(params, null);
  const actions = (s.row_actions ?? []).filter((a) => ctx.can(a.route));
  const canOpen = !!s.open && ctx.can(s.open);
  const canCreate = !!s.create && ctx.can(s.create.route);

  const act = async (action: ActionDecl, row: Row, values?: Record<string, unknown>) => {
    // A PATCH changes what the user changed: fields still as the row has them are not sent.
    if (values && splitTemplate(action.route).method === 'PATCH') {
      values = Object.fromEntries(
        Object.entries(values).filter(([k, v]) => !(k in row) || JSON.stringify(v) !== JSON.stringify(row[k])),
      );
    }
    const src: Sources = { app: ctx.app, row, params, values };
    if (action.confirm && !(await ctx.confirm(fillText(action.confirm, src), action.title, !!action.danger))) return;
    const result = action.result ?? 'refresh';
    await perform(action.route, src, result, `${action.title}: ${rowLabel(row, columns)}`, ctx);
    setForm(null);
    if (result === 'refresh') ctx.changed();
  };

  const tableColumns = columns.map((c) => ({
    title: c.title ?? c.field,
    class: c.format === 'json' ? 'mono' : undefined,
    render: (row: Row) =>
      c.format === 'json' ? <code>{formatCell(row[c.field], 'json')}</code> : formatCell(row[c.field], c.format),
  }));
  if (canOpen || actions.length) {
    tableColumns.push({
      title: 'Actions',
      class: 'actions',
      render: (row: Row) => {
        const label = rowLabel(row, columns);
        return (
          <span class="row-actions">
            {canOpen && (
              <button
                type="button"
                class="btn btn-small"
                aria-label={`Open ${label}`}
                onClick={async () => {
                  try {
                    const filled = fillRoute(s.open!, { app: ctx.app, row, params });
                    ctx.show(label || s.title || 'Entry', await request('GET', filled.path));
                  } catch (e) {
                    setError(e);
                  }
                }}
              >
                Open
              </button>
            )}
            {actions.map((a) => (
              <button
                type="button"
                key={a.id}
                class={a.danger ? 'btn btn-small btn-danger' : 'btn btn-small'}
                aria-label={label ? `${a.title} ${label}` : a.title}
                onClick={async () => {
                  if (a.schema) {
                    setForm({ kind: 'action', action: a, row });
                    return;
                  }
                  try {
                    setError(null);
                    await act(a, row);
                  } catch (e) {
                    setError(e);
                  }
                }}
              >
                {a.title}
              </button>
            ))}
          </span>
        );
      },
    });
  }

  const head = (
    <>
      <button type="button" class="btn btn-small" onClick={refresh} disabled={!params || loading}>
        Refresh
      </button>
      {canCreate && (
        <button type="button" class="btn btn-small btn-primary" onClick={() => setForm({ kind: 'create' })}>
          {s.create!.title ?? 'New'}
        </button>
      )}
    </>
  );

  return (
    <Section s={s} level={ctx.level} actions={head}>
      {s.params && Object.keys(s.params.properties ?? {}).length > 0 && (
        <div class="section-params">
          <SchemaForm
            key={JSON.stringify(params)}
            schema={s.params}
            initial={params ?? pick(s.params, ctx.shared)}
            submitLabel="Show"
            onSubmit={async (values) => {
              setParams({ ...values });
              ctx.share(values);
            }}
          />
        </div>
      )}
      {error != null && <ErrorBanner error={error} onDismiss={() => setError(null)} />}
      {params ? (
        <Table<Row>
          caption={s.title ?? s.id}
          columns={tableColumns}
          rows={rows}
          rowKey={(r) => JSON.stringify(r)}
          empty="Nothing here."
        />
      ) : (
        <p class="section-hint">Fill in the fields above and press Show.</p>
      )}
      {cursor && (
        <button type="button" class="btn" onClick={() => load(params, cursor)} disabled={loading}>
          More
        </button>
      )}
      <LiveStatus>{loading ? 'Loading…' : status}</LiveStatus>
      {form?.kind === 'create' && s.create && (
        <Dialog open title={s.create.title ?? 'New'} onClose={() => setForm(null)}>
          <SchemaForm
            schema={s.create.schema ?? EMPTY_SCHEMA}
            submitLabel="Save"
            onSubmit={async (values) => {
              const src: Sources = { app: ctx.app, params, values };
              const c = s.create!;
              if (c.confirm && !(await ctx.confirm(fillText(c.confirm, src), c.title ?? 'Save', false))) return;
              const result = c.result ?? 'refresh';
              await perform(c.route, src, result, c.title ?? 'Created', ctx);
              setForm(null);
              ctx.changed();
            }}
            extra={
              <button type="button" class="btn" onClick={() => setForm(null)}>
                Cancel
              </button>
            }
          />
        </Dialog>
      )}
      {form?.kind === 'action' && (
        <Dialog open title={`${form.action.title}: ${rowLabel(form.row, columns)}`} onClose={() => setForm(null)}>
          <SchemaForm
            schema={form.action.schema ?? EMPTY_SCHEMA}
            initial={form.row}
            submitLabel={form.action.title}
            onSubmit={(values) => act(form.action, form.row, values).then(() => undefined)}
            extra={
              <button type="button" class="btn" onClick={() => setForm(null)}>
                Cancel
              </button>
            }
          />
        </Dialog>
      )}
    </Section>
  );
}

function FormSection({ s, ctx }: { s: FormDecl; ctx: Ctx }) {
  const [done, setDone] = useState('');
  const [round, setRound] = useState(0);
  if (!ctx.can(s.route)) return null;
  const initial = pick(s.schema, ctx.shared);
  return (
    <Section s={s} level={ctx.level}>
      <SchemaForm
        key={`${round}:${JSON.stringify(initial)}`}
        schema={s.schema ?? EMPTY_SCHEMA}
        initial={initial}
        submitLabel={s.submit ?? s.title ?? 'Submit'}
        onSubmit={async (values) => {
          const src: Sources = { app: ctx.app, values };
          const label = s.submit ?? s.title ?? 'Submit';
          if (s.confirm && !(await ctx.confirm(fillText(s.confirm, src), label, !!s.danger))) return;
          setDone('');
          await perform(s.route, src, s.result ?? 'show', s.title ?? 'Answer', ctx);
          ctx.changed();
          ctx.share(values);
          setDone(`${label}: done.`);
          setRound((r) => r + 1);
        }}
      />
      <LiveStatus>{done}</LiveStatus>
    </Section>
  );
}

function JsonSection({ s, ctx }: { s: JsonDecl; ctx: Ctx }) {
  const [value, setValue] = useState<unknown>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const load = async () => {
    setLoading(true);
    try {
      const filled = fillRoute(s.source, { app: ctx.app });
      setValue(await request('GET', filled.path));
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    if (ctx.can(s.source)) void load();
  }, [s.source, ctx.generation]);
  if (!ctx.can(s.source)) return null;
  return (
    <Section
      s={s}
      level={ctx.level}
      actions={
        <button type="button" class="btn btn-small" onClick={load} disabled={loading}>
          Refresh
        </button>
      }
    >
      {error != null && <ErrorBanner error={error} />}
      {value !== undefined && <JsonView value={value} label={s.title ?? s.id} />}
      <LiveStatus>{loading ? 'Loading…' : ''}</LiveStatus>
    </Section>
  );
}

/** What a view's own module gets from the dashboard (see the plugin SDK's docs). */
export interface ViewHost {
  app: AppContext | null;
  user: { id: string; username: string; owner: boolean };
  request(method: string, path: string, opts?: { query?: Record<string, string>; body?: unknown }): Promise<unknown>;
  can(route: string): boolean;
}

function ModuleView({ view, ctx, user }: { view: View; ctx: Ctx; user: ViewHost['user'] }) {
  const el = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<unknown>(null);
  const template = view.module!;
  let url: string | null = null;
  try {
    url = fillRoute(template, { app: ctx.app }).path;
  } catch {
    url = null;
  }
  useEffect(() => {
    const target = el.current;
    if (!target || !url) return;
    let cancelled = false;
    let unmount: (() => void) | null = null;
    const host: ViewHost = {
      app: ctx.app,
      user: { id: user.id, username: user.username, owner: user.owner },
      request: (method, path, opts = {}) => {
        const p = path.includes('{') ? fillRoute(`${method} ${path}`, { app: ctx.app }).path : path;
        return request(method, p, { query: opts.query, body: opts.body });
      },
      can: (route) => ctx.can(route),
    };
    setError(null);
    import(/* @vite-ignore */ url)
      .then(async (mod) => {
        if (cancelled) return;
        const mount = mod.default ?? mod.mount;
        if (typeof mount !== 'function') throw new Error('the view module has no default export mount(element, host)');
        const r = await mount(target, host);
        if (cancelled) {
          if (typeof r === 'function') r();
        } else if (typeof r === 'function') unmount = r;
      })
      .catch((e) => {
        if (!cancelled) setError(new Error(`the view's module could not be loaded: ${errorMessage(e)}`));
      });
    return () => {
      cancelled = true;
      try {
        unmount?.();
      } finally {
        target.replaceChildren();
      }
    };
  }, [url, ctx.app?.id, ctx.app?.role]);
  if (!url) return <ErrorBanner error={new Error(`the view's module route "${template}" cannot be filled`)} />;
  return (
    <>
      {error != null && <ErrorBanner error={error} />}
      <div ref={el} class="plugin-module" />
    </>
  );
}
