import { useEffect, useState } from 'preact/hooks';
import { appPath, request } from '../../api';
import { useLoad } from '../../hooks';
import { setQuery, useLocation } from '../../router';
import type { Page } from '../../types';
import { ConfirmDialog, ErrorBanner, Field, Icon, JsonView, Link } from '../../ui';
import { formatRelative, formatTime } from '../../format';
import type { AppCtx } from '../AppPage';

interface DeadLetter {
  id: string;
  execution_id: string | null;
  source: string;
  op: string | null;
  trigger_id: string | null;
  route_id: string | null;
  script_id: string | null;
  depth: number;
  attempts: number;
  first_attempt_at: string;
  last_attempt_at: string;
  last_error: string;
  created_at: string;
  resolved: boolean;
  resolved_at: string | null;
  resolution: 'replayed' | 'resolved' | null;
  reason: string | null;
  resolved_by: string | null;
  handler: string;
  event?: unknown;
}

export function DeadLetters({ ctx }: { ctx: AppCtx }) {
  const canWrite = ctx.can('app_editor');
  const { query } = useLocation();
  const state = query.get('state') ?? 'unresolved';
  const [extra, setExtra] = useState<{ items: DeadLetter[]; cursor: string | null }>({ items: [], cursor: null });
  const list = useLoad(
    () =>
      request<Page<DeadLetter>>('GET', appPath(ctx.app.id, '/dead_letters'), {
        query: { limit: 50, state: state === 'unresolved' ? undefined : state },
      }),
    [ctx.app.id, state],
  );
  const count = useLoad(() => request<{ unresolved: number }>('GET', appPath(ctx.app.id, '/dead_letters/count')), [ctx.app.id]);
  const [status, setStatus] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [resolving, setResolving] = useState<DeadLetter | null>(null);
  const [reason, setReason] = useState('');

  useEffect(() => {
    if (list.data) setExtra({ items: [], cursor: list.data.next_cursor });
  }, [list.data]);

  const rows = list.data ? [...list.data.items, ...extra.items] : null;
  const reload = async () => {
    await Promise.all([list.reload(), count.reload()]);
  };
  const more = async () => {
    const p = await request<Page<DeadLetter>>('GET', appPath(ctx.app.id, '/dead_letters'), {
      query: { limit: 50, cursor: extra.cursor ?? undefined, state: state === 'unresolved' ? undefined : state },
    });
    setExtra({ items: [...extra.items, ...p.items], cursor: p.next_cursor });
  };

  const replay = async (d: DeadLetter) => {
    setError(null);
    try {
      const r = await request<{ execution_id: string }>('POST', appPath(ctx.app.id, `/dead_letters/${d.id}/replay`));
      setStatus(`Dead letter queued again as execution ${r.execution_id}.`);
      await reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div class="stack">
      <div class="toolbar">
        <h2>
          Dead letters{' '}
          {count.data && count.data.unresolved > 0 && (
            <span class="badge badge-danger" aria-label={`${count.data.unresolved} unresolved`}>
              {count.data.unresolved}
            </span>
          )}
        </h2>
        <div class="toolbar-right">
          <label class="inline-field">
            <span>State</span>
            <select value={state} onChange={(e) => setQuery({ state: e.currentTarget.value === 'unresolved' ? undefined : e.currentTarget.value })}>
              <option value="unresolved">unresolved</option>
              <option value="resolved">resolved</option>
              <option value="all">all</option>
            </select>
          </label>
          <button type="button" class="btn" onClick={() => void reload()}>
            <Icon name="refresh" size={16} />
            Refresh
          </button>
        </div>
      </div>
      <p class="muted small">Events and async requests whose runs failed after every retry. Replay queues the event again; resolve marks it handled.</p>
      {list.error != null && <ErrorBanner error={list.error} title="Could not load the dead letters" onRetry={list.reload} />}
      {error != null && <ErrorBanner error={error} onDismiss={() => setError(null)} />}
      <p class="live-status" role="status" aria-live="polite">
        {status}
      </p>
      {rows === null && !list.error && <p class="muted">Loading…</p>}
      {rows && rows.length === 0 && <p class="empty-state">{state === 'unresolved' ? 'No unresolved dead letters. All good.' : 'No dead letters.'}</p>}
      {rows && rows.length > 0 && (
        <ul class="letters" aria-label="Dead letters">
          {rows.map((d) => (
            <Letter
              key={d.id}
              ctx={ctx}
              d={d}
              canWrite={canWrite}
              onReplay={() => void replay(d)}
              onResolve={() => {
                setReason('');
                setResolving(d);
              }}
            />
          ))}
        </ul>
      )}
      {extra.cursor && (
        <button type="button" class="btn" onClick={() => void more()}>
          More
        </button>
      )}
      <ConfirmDialog
        open={resolving != null}
        title="Resolve dead letter?"
        message={<p>It is marked handled and is not run again.</p>}
        confirmLabel="Resolve"
        onCancel={() => setResolving(null)}
        onConfirm={async () => {
          const body = reason.trim() ? { reason: reason.trim() } : {};
          await request('POST', appPath(ctx.app.id, `/dead_letters/${resolving!.id}/resolve`), { body });
          setResolving(null);
          setStatus('Dead letter resolved.');
          await reload();
        }}
      >
        <Field label="Reason" hint="Optional, at most 1000 characters.">
          {(a) => <textarea {...a} rows={3} maxLength={1000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}
        </Field>
      </ConfirmDialog>
    </div>
  );
}

function Letter({ ctx, d, canWrite, onReplay, onResolve }: { ctx: AppCtx; d: DeadLetter; canWrite: boolean; onReplay: () => void; onResolve: () => void }) {
  const [open, setOpen] = useState(false);
  const [full, setFull] = useState<DeadLetter | null>(null);
  const [error, setError] = useState<unknown>(null);
  const toggle = async () => {
    const next = !open;
    setOpen(next);
    if (next && !full) {
      try {
        setFull(await request<DeadLetter>('GET', appPath(ctx.app.id, `/dead_letters/${d.id}`)));
      } catch (e) {
        setError(e);
      }
    }
  };
  const panelId = `letter-${d.id}`;
  return (
    <li class={`letter card ${d.resolved ? 'letter-resolved' : ''}`}>
      <div class="letter-head">
        <button type="button" class="letter-toggle" aria-expanded={open} aria-controls={panelId} onClick={() => void toggle()}>
          <span class="chevron" aria-hidden="true">
            ▸
          </span>
          <span class="badge badge-muted">{d.source}</span>
          {d.op && <span class="mono small">{d.op}</span>}
          <span class="letter-error">{d.last_error}</span>
        </button>
        <div class="letter-actions">
          {d.resolved ? (
            <span class="badge badge-ok">{d.resolution}</span>
          ) : (
            canWrite && (
              <>
                <button type="button" class="btn btn-small" onClick={onReplay}>
                  Replay
                </button>
                <button type="button" class="btn btn-small" onClick={onResolve}>
                  Resolve
                </button>
              </>
            )
          )}
        </div>
      </div>
      <p class="letter-meta small muted">
        <time dateTime={d.created_at} title={formatTime(d.created_at)}>
          {formatRelative(d.created_at)}
        </time>{' '}
        · {d.attempts} attempt{d.attempts === 1 ? '' : 's'} · depth {d.depth}
        {d.handler !== 'ok' && <> · dead-letter handler failed</>}
        {d.execution_id && (
          <>
            {' '}
            · <Link to={`/apps/${ctx.app.slug}/executions/${d.execution_id}`}>last execution</Link>
          </>
        )}
      </p>
      {open && (
        <div id={panelId} class="letter-body">
          {error != null && <ErrorBanner error={error} />}
          {!full && !error && <p class="muted">Loading…</p>}
          {full && (
            <>
              <h3 class="small-heading">Payload</h3>
              <JsonView value={full.event ?? null} label="Payload" />
              <dl class="facts small">
                <div>
                  <dt>First attempt</dt>
                  <dd>{formatTime(full.first_attempt_at)}</dd>
                </div>
                <div>
                  <dt>Last attempt</dt>
                  <dd>{formatTime(full.last_attempt_at)}</dd>
                </div>
                {full.trigger_id && (
                  <div>
                    <dt>Trigger</dt>
                    <dd class="mono">{full.trigger_id}</dd>
                  </div>
                )}
                {full.route_id && (
                  <div>
                    <dt>Route</dt>
                    <dd class="mono">{full.route_id}</dd>
                  </div>
                )}
                {full.resolved && (
                  <div>
                    <dt>Resolved</dt>
                    <dd>
                      {full.resolution} {formatTime(full.resolved_at)}
                      {full.reason && <> — “{full.reason}”</>}
                    </dd>
                  </div>
                )}
              </dl>
            </>
          )}
        </div>
      )}
    </li>
  );
}
