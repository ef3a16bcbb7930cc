import { useEffect, useState } from 'preact/hooks';
import { appPath, request } from '../../api';
import { useInterval, useLoad } from '../../hooks';
import { navigate, setQuery, useLocation } from '../../router';
import type { Page } from '../../types';
import { Dialog, ErrorBanner, Icon, JsonView, Link, Table } from '../../ui';
import { formatMs, formatRelative, formatTime, formatBytes } from '../../format';
import type { AppCtx } from '../AppPage';
import { loadAllScripts } from './Scripts';
import { LogLines } from './ScriptPage';

export interface Execution {
  id: string;
  app_id: string;
  script_id: string;
  script_version: number;
  route_id: string | null;
  trigger_id: string | null;
  source: string;
  status: 'ok' | 'error';
  error_kind: string | null;
  error_message: string | null;
  http_status: number | null;
  duration_ms: number;
  operations: number;
  peak_memory_bytes: number;
  dropped_logs: number;
  started_at: string;
  logs?: { level: string; message: string; time?: string }[];
}

const PAGE = 50;

export function Executions({ ctx, open }: { ctx: AppCtx; open?: string }) {
  const { query } = useLocation();
  const script = query.get('script') ?? '';
  const route = query.get('route') ?? '';
  const status = query.get('status') ?? '';
  const [live, setLive] = useState(false);
  const [stack, setStack] = useState<(string | undefined)[]>([]); // cursors of the newer pages
  const [cursor, setCursor] = useState<string | undefined>(undefined);

  const scripts = useLoad(() => loadAllScripts(ctx.app.id), [ctx.app.id]);
  const routes = useLoad(
    () => request<Page<{ id: string; path: string; methods: string[] }>>('GET', appPath(ctx.app.id, '/routes'), { query: { limit: 200 } }),
    [ctx.app.id],
  );
  const list = useLoad(
    () =>
      request<Page<Execution>>('GET', appPath(ctx.app.id, '/executions'), {
        query: { limit: PAGE, cursor, script: script || undefined, route: route || undefined, status: status || undefined },
      }),
    [ctx.app.id, script, route, status, cursor],
  );

  useEffect(() => {
    setStack([]);
    setCursor(undefined);
  }, [script, route, status]);

  // Live refresh follows the newest page only.
  useInterval(() => void list.reload(), 2000, live && cursor === undefined);

  const scriptName = (id: string) => scripts.data?.find((s) => s.id === id)?.name;
  const routeLabel = (id: string) => {
    const r = routes.data?.items.find((x) => x.id === id);
    return r ? `${r.methods.join(',')} ${r.path}` : id.slice(0, 8) + '…';
  };
  const base = `/apps/${ctx.app.slug}/executions`;
  const qs = query.toString();

  return (
    <div class="stack">
      <div class="toolbar">
        <h2>Executions</h2>
        <div class="toolbar-right">
          <label class="switch">
            <input type="checkbox" role="switch" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} aria-describedby="live-hint" />
            <span>Live</span>
          </label>
          <span id="live-hint" class="sr-only">
            Refreshes the newest page every 2 seconds
          </span>
          <button type="button" class="btn" onClick={() => void list.reload()}>
            <Icon name="refresh" size={16} />
            Refresh
          </button>
        </div>
      </div>
      <form class="filters" role="search" aria-label="Filter executions" onSubmit={(e) => e.preventDefault()}>
        <label class="inline-field">
          <span>Script</span>
          <select value={script} onChange={(e) => setQuery({ script: e.currentTarget.value })}>
            <option value="">all scripts</option>
            {(scripts.data ?? []).map((s) => (
              <option value={s.id}>{s.name}</option>
            ))}
            {script && scripts.data && !scripts.data.some((s) => s.id === script) && <option value={script}>{script} (deleted)</option>}
          </select>
        </label>
        <label class="inline-field">
          <span>Route</span>
          <select value={route} onChange={(e) => setQuery({ route: e.currentTarget.value })}>
            <option value="">all routes</option>
            {(routes.data?.items ?? []).map((r) => (
              <option value={r.id}>
                {r.methods.join(',')} {r.path}
              </option>
            ))}
          </select>
        </label>
        <label class="inline-field">
          <span>Status</span>
          <select value={status} onChange={(e) => setQuery({ status: e.currentTarget.value })}>
            <option value="">any status</option>
            <option value="ok">ok</option>
            <option value="error">error</option>
          </select>
        </label>
      </form>
      {list.error != null && <ErrorBanner error={list.error} title="Could not load the executions" onRetry={list.reload} />}
      <p class="live-status" role="status" aria-live="polite">
        {list.data ? `${list.data.items.length} execution${list.data.items.length === 1 ? '' : 's'} on this page${live ? ', refreshing live' : ''}.` : ''}
      </p>
      <Table<Execution>
        caption="Executions, newest first"
        rows={list.data?.items ?? null}
        rowKey={(x) => x.id}
        rowClass={(x) => (x.status === 'error' ? 'row-error' : undefined)}
        empty="No executions match. Runs appear a moment after they end."
        columns={[
          {
            title: 'Started',
            render: (x) => (
              <Link to={`${base}/${x.id}${qs ? '?' + qs : ''}`} aria-label={`Execution of ${formatTime(x.started_at)}, details`}>
                <time dateTime={x.started_at} title={formatTime(x.started_at)}>
                  {formatRelative(x.started_at)}
                </time>
              </Link>
            ),
          },
          {
            title: 'Status',
            render: (x) => (
              <span class={`badge ${x.status === 'ok' ? 'badge-ok' : 'badge-danger'}`} title={x.error_message ?? undefined}>
                {x.status === 'ok' ? 'ok' : (x.error_kind ?? 'error')}
              </span>
            ),
          },
          { title: 'HTTP', class: 'num mono', render: (x) => x.http_status ?? '—' },
          { title: 'Script', render: (x) => <span class="mono">{scriptName(x.script_id) ?? x.script_id.slice(0, 8) + '…'}</span> },
          {
            title: 'Source',
            render: (x) => (
              <span class="small">
                {x.source}
                {x.route_id && <span class="muted"> · {routeLabel(x.route_id)}</span>}
              </span>
            ),
          },
          { title: 'Duration', class: 'num', render: (x) => formatMs(x.duration_ms) },
        ]}
      />
      <div class="pager">
        <button
          type="button"
          class="btn"
          disabled={stack.length === 0}
          onClick={() => {
            setCursor(stack[stack.length - 1]);
            setStack(stack.slice(0, -1));
          }}
        >
          Newer
        </button>
        <button
          type="button"
          class="btn"
          disabled={!list.data?.next_cursor}
          onClick={() => {
            setStack([...stack, cursor]);
            setCursor(list.data!.next_cursor!);
          }}
        >
          Older
        </button>
      </div>
      {open && (
        <ExecutionDialog
          ctx={ctx}
          id={open}
          scriptName={scriptName}
          routeLabel={routeLabel}
          onClose={() => navigate(`${base}${qs ? '?' + qs : ''}`)}
        />
      )}
    </div>
  );
}

function ExecutionDialog(props: {
  ctx: AppCtx;
  id: string;
  scriptName: (id: string) => string | undefined;
  routeLabel: (id: string) => string;
  onClose: () => void;
}) {
  const x = useLoad(() => request<Execution>('GET', appPath(props.ctx.app.id, `/executions/${encodeURIComponent(props.id)}`)), [props.id]);
  const e = x.data;
  return (
    <Dialog open title="Execution" onClose={props.onClose} size="wide">
      {x.error != null && <ErrorBanner error={x.error} title="Could not load the execution" />}
      {!e && !x.error && (
        <p class="muted" role="status">
          Loading…
        </p>
      )}
      {e && (
        <div class="stack">
          <dl class="facts">
            <div>
              <dt>Status</dt>
              <dd>
                <span class={`badge ${e.status === 'ok' ? 'badge-ok' : 'badge-danger'}`}>{e.status}</span>
                {e.http_status != null && <span class="mono"> {e.http_status}</span>}
              </dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>{formatTime(e.started_at)}</dd>
            </div>
            <div>
              <dt>Script</dt>
              <dd class="mono">
                <Link to={`/apps/${props.ctx.app.slug}/scripts/${encodeURIComponent(props.scriptName(e.script_id) ?? e.script_id)}`}>
                  {props.scriptName(e.script_id) ?? e.script_id}
                </Link>{' '}
                v{e.script_version}
              </dd>
            </div>
            <div>
              <dt>Source</dt>
              <dd>
                {e.source}
                {e.route_id && <> · {props.routeLabel(e.route_id)}</>}
                {e.trigger_id && <span class="mono small"> · trigger {e.trigger_id}</span>}
              </dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{formatMs(e.duration_ms)}</dd>
            </div>
            <div>
              <dt>Operations</dt>
              <dd>{e.operations?.toLocaleString()}</dd>
            </div>
            <div>
              <dt>Peak memory</dt>
              <dd>{formatBytes(e.peak_memory_bytes)}</dd>
            </div>
            <div>
              <dt>Id</dt>
              <dd class="mono small">{e.id}</dd>
            </div>
          </dl>
          {e.status === 'error' && (
            <div class="banner banner-error">
              <span>
                <strong>{e.error_kind}</strong>: {e.error_message}
              </span>
            </div>
          )}
          <LogLines logs={e.logs} dropped={e.dropped_logs} />
          <details>
            <summary>Raw record</summary>
            <JsonView value={e} label="Execution record" />
          </details>
        </div>
      )}
    </Dialog>
  );
}
