import { useEffect, useRef, useState } from 'preact/hooks';
import { ADMIN, ApiError, appPath, request } from '../../api';
import { useLoad, useTitle } from '../../hooks';
import { navigate, setLeaveGuard } from '../../router';
import { ConfirmDialog, ErrorBanner, Field, Icon, JsonView, Link, TextField, fieldError } from '../../ui';
import { formatMs, formatTime } from '../../format';
import type { AppCtx } from '../AppPage';
import type { Script } from './Scripts';
import { CompileErrors, DiagList, isCompileError, type Diag } from './CompileErrors';
import type { EditorHandle, CompileMessage } from '../../editor/codemirror';

type SaveResult = Script & { warnings?: Diag[]; broken_dependents?: { id: string; name: string; errors: Diag[] }[] };

let scriptApiWords: Promise<string[]> | null = null;
/** Completion words from GET /script-api: namespaces, functions and types. */
function loadWords(): Promise<string[]> {
  scriptApiWords ??= request<any>('GET', `${ADMIN}/script-api`)
    .then((r) => {
      const out = new Set<string>();
      for (const ns of r.namespaces ?? []) {
        const prefix = ns.name ? `${ns.name}::` : '';
        if (ns.name) out.add(ns.name);
        for (const f of ns.functions ?? []) out.add(prefix + f.name);
        for (const t of ns.types ?? []) out.add(prefix + t.name);
      }
      return [...out];
    })
    .catch(() => []);
  return scriptApiWords;
}

export function ScriptPage({ ctx, name }: { ctx: AppCtx; name: string }) {
  useTitle(`${name} · ${ctx.app.name}`);
  const canWrite = ctx.can('app_editor');
  const loaded = useLoad(() => request<Script>('GET', appPath(ctx.app.id, `/scripts/${encodeURIComponent(name)}`)), [ctx.app.id, name]);
  const script = loaded.data;

  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<EditorHandle | null>(null);
  const [editorError, setEditorError] = useState<unknown>(null);
  const [editorReady, setEditorReady] = useState(false);
  const [dirty, setDirty] = useState(false);
  const [saving, setSaving] = useState(false);
  const [status, setStatus] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [diags, setDiags] = useState<{ errors: Diag[]; warnings: Diag[] }>({ errors: [], warnings: [] });
  const [broken, setBroken] = useState<SaveResult['broken_dependents']>([]);
  const [deleting, setDeleting] = useState(false);
  const saveRef = useRef<() => void>(() => {});

  // Mount the editor (a lazily loaded chunk) once the script is there.
  useEffect(() => {
    if (!script || !host.current) return;
    let alive = true;
    let handle: EditorHandle | null = null;
    import('../../editor/codemirror')
      .then((m) => {
        if (!alive || !host.current) return;
        handle = m.createEditor(host.current, {
          doc: script.source ?? '',
          readOnly: !canWrite,
          label: `Source of ${script.name}`,
          onChange: () => setDirty(true),
          onSave: () => saveRef.current(),
        });
        editor.current = handle;
        setEditorReady(true);
        void loadWords().then((w) => handle?.setWords(w));
      })
      .catch((e) => alive && setEditorError(e));
    return () => {
      alive = false;
      handle?.destroy();
      editor.current = null;
      setEditorReady(false);
    };
  }, [script?.id, canWrite]);

  const showMessages = (errors: Diag[], warnings: Diag[]) => {
    setDiags({ errors, warnings });
    const msgs: CompileMessage[] = [
      ...errors.map((d) => ({ ...d, severity: 'error' as const })),
      ...warnings.map((d) => ({ ...d, severity: 'warning' as const })),
    ];
    editor.current?.setMessages(msgs);
  };

  const save = async () => {
    if (!script || !editor.current || saving) return;
    const source = editor.current.getValue();
    if (source === script.source) {
      setStatus('No changes to save.');
      return;
    }
    setSaving(true);
    setError(null);
    setStatus('Saving…');
    try {
      const r = await request<SaveResult>('PATCH', appPath(ctx.app.id, `/scripts/${encodeURIComponent(script.id)}`), { body: { source } });
      loaded.setData({ ...script, ...r, source });
      setDirty(false);
      showMessages([], r.warnings ?? []);
      setBroken(r.broken_dependents ?? []);
      const w = r.warnings?.length ?? 0;
      setStatus(`Saved version ${r.version}${w ? ` with ${w} warning${w === 1 ? '' : 's'}` : ''}.`);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'script_invalid') {
        showMessages(e.details?.errors ?? [], e.details?.warnings ?? []);
        const n = e.details?.errors?.length ?? 0;
        setStatus(`Not saved: the script does not compile (${n} error${n === 1 ? '' : 's'}).`);
      } else {
        setError(e);
        setStatus('Not saved.');
      }
    } finally {
      setSaving(false);
    }
  };
  saveRef.current = () => void save();

  // Warn before leaving with unsaved changes.
  useEffect(() => {
    if (!dirty) return;
    const h = (e: BeforeUnloadEvent) => {
      e.preventDefault();
    };
    window.addEventListener('beforeunload', h);
    setLeaveGuard(() => window.confirm('This script has unsaved changes. Leave without saving?'));
    return () => {
      window.removeEventListener('beforeunload', h);
      setLeaveGuard(null);
    };
  }, [dirty]);

  if (loaded.error) {
    return (
      <div class="stack">
        <p>
          <Link to={`/apps/${ctx.app.slug}/scripts`}>← Scripts</Link>
        </p>
        <ErrorBanner error={loaded.error} title={`Could not load the script “${name}”`} onRetry={loaded.reload} />
      </div>
    );
  }

  return (
    <div class="stack script-page">
      <div class="toolbar">
        <div>
          <p class="crumbs">
            <Link to={`/apps/${ctx.app.slug}/scripts`}>Scripts</Link> <span aria-hidden="true">/</span>
          </p>
          <h2 class="mono">{name}</h2>
          {script && (
            <p class="muted small">
              {script.kind} · version {script.version} · updated {formatTime(script.updated_at)}
              {script.imports?.length ? <> · imports {script.imports.join(', ')}</> : null}
              {dirty && <span class="badge badge-warn">unsaved changes</span>}
            </p>
          )}
        </div>
        <div class="toolbar-right">
          {script && (
            <Link class="btn btn-ghost" to={`/apps/${ctx.app.slug}/executions?script=${encodeURIComponent(script.id)}`}>
              Executions
            </Link>
          )}
          {canWrite && script && (
            <button type="button" class="btn btn-ghost-danger" onClick={() => setDeleting(true)}>
              <Icon name="trash" size={16} />
              Delete
            </button>
          )}
          {canWrite && (
            <button type="button" class="btn btn-primary" onClick={() => void save()} disabled={!script || saving} aria-keyshortcuts="Control+S">
              Save
            </button>
          )}
        </div>
      </div>
      <p class="live-status" role="status" aria-live="polite">
        {status}
      </p>
      {error != null && <ErrorBanner error={error} title="Could not save" onDismiss={() => setError(null)} />}
      {editorError != null && <ErrorBanner error={editorError} title="The editor could not be loaded" />}
      {!editorReady && !editorError && (
        <p class="muted editor-loading" role="status">
          {script ? 'Loading the editor…' : 'Loading the script…'}
        </p>
      )}
      <div class={`editor-host ${editorReady ? '' : 'editor-pending'}`} ref={host} />
      {canWrite && <p class="muted small">Ctrl+S (⌘S) saves. Tab indents; press Esc, then Tab, to leave the editor.</p>}
      <DiagList errors={diags.errors} warnings={diags.warnings} onPick={(d) => editor.current?.goTo(d.line, d.column)} />
      {broken && broken.length > 0 && (
        <section class="banner banner-warn" aria-label="Broken importers">
          <div>
            <strong>Saved, but these scripts that import this module no longer compile:</strong>
            <ul>
              {broken.map((b) => (
                <li>
                  <Link to={`/apps/${ctx.app.slug}/scripts/${encodeURIComponent(b.name)}`} class="mono">
                    {b.name}
                  </Link>
                  : {b.errors?.[0]?.message ?? 'does not compile'}
                </li>
              ))}
            </ul>
          </div>
        </section>
      )}
      {script && script.kind === 'endpoint' && ctx.can('app_viewer') && <RunPanel ctx={ctx} script={script} dirty={dirty} />}
      {script && canWrite && (
        <ScriptSettings
          ctx={ctx}
          script={script}
          onSaved={(s) => {
            if (s.name !== script.name) {
              setLeaveGuard(null);
              navigate(`/apps/${ctx.app.slug}/scripts/${encodeURIComponent(s.name)}`, { replace: true });
            } else {
              loaded.setData({ ...script, ...s, source: script.source });
            }
          }}
        />
      )}
      <ConfirmDialog
        open={deleting}
        title={`Delete script ${name}?`}
        message={<p>The script is deleted; its execution logs stay. Routes and triggers that use it must be removed first.</p>}
        confirmLabel="Delete script"
        danger
        onCancel={() => setDeleting(false)}
        onConfirm={async () => {
          await request('DELETE', appPath(ctx.app.id, `/scripts/${encodeURIComponent(script!.id)}`));
          setDeleting(false);
          setDirty(false);
          setLeaveGuard(null);
          navigate(`/apps/${ctx.app.slug}/scripts`);
        }}
      />
    </div>
  );
}

/** Renaming a script or changing its kind (the source stays as saved). */
function ScriptSettings({ ctx, script, onSaved }: { ctx: AppCtx; script: Script; onSaved: (s: Script) => void }) {
  const [name, setName] = useState(script.name);
  const [kind, setKind] = useState(script.kind);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const body: Record<string, string> = {};
    if (name.trim() !== script.name) body.name = name.trim();
    if (kind !== script.kind) body.kind = kind;
    if (!Object.keys(body).length) {
      setStatus('Nothing to change.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const r = await request<Script>('PATCH', appPath(ctx.app.id, `/scripts/${encodeURIComponent(script.id)}`), { body });
      setStatus('Changed.');
      onSaved(r);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="card">
      <summary class="card-summary">Rename or change kind</summary>
      <form class="form" onSubmit={submit}>
        {error != null && !fieldError(error, 'name') && !fieldError(error, 'kind') && !isCompileError(error) && <ErrorBanner error={error} />}
        <CompileErrors error={error} />
        <div class="grid-2">
          <TextField
            label="Name"
            value={name}
            onValue={setName}
            required
            spellcheck={false}
            pattern="[A-Za-z_][A-Za-z0-9_]{0,63}"
            hint="Modules imported by others, and scripts bound to routes or triggers, keep their names and kinds (409)."
            error={fieldError(error, 'name')}
          />
          <Field label="Kind" error={fieldError(error, 'kind')}>
            {(a) => (
              <select {...a} value={kind} onChange={(e) => setKind(e.currentTarget.value as Script['kind'])}>
                <option value="endpoint">endpoint</option>
                <option value="module">module</option>
              </select>
            )}
          </Field>
        </div>
        <div class="form-actions">
          <p class="live-status" role="status" aria-live="polite">
            {status}
          </p>
          <button type="submit" class="btn" disabled={busy}>
            Apply
          </button>
        </div>
      </form>
    </details>
  );
}

interface RunResult {
  duration_ms: number;
  error: { code: string; message: string } | null;
  execution_id: string;
  logs: { level: string; message: string; time?: string }[];
  ok: boolean;
  operations: number;
  status: number;
  response: { body: string; headers: [string, string][]; status: number } | null;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

function RunPanel({ ctx, script, dirty }: { ctx: AppCtx; script: Script; dirty: boolean }) {
  const [method, setMethod] = useState('GET');
  const [path, setPath] = useState('/');
  const [query, setQuery] = useState('');
  const [headers, setHeaders] = useState('');
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<RunResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [headersError, setHeadersError] = useState<string | null>(null);

  const run = async (e: Event) => {
    e.preventDefault();
    setHeadersError(null);
    const hs: Record<string, string> = {};
    for (const line of headers.split('\n')) {
      if (!line.trim()) continue;
      const i = line.indexOf(':');
      if (i <= 0) {
        setHeadersError(`“${line.trim()}” is not “Name: value”.`);
        return;
      }
      hs[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    setBusy(true);
    setError(null);
    try {
      const req: Record<string, unknown> = { method, path: path || '/' };
      if (query.trim()) req.query = query.trim().replace(/^\?/, '');
      if (Object.keys(hs).length) req.headers = hs;
      if (body && method !== 'GET' && method !== 'HEAD') req.body = body;
      setResult(await request<RunResult>('POST', appPath(ctx.app.id, `/scripts/${encodeURIComponent(script.id)}/run`), { body: req }));
    } catch (err) {
      setError(err);
      setResult(null);
    } finally {
      setBusy(false);
    }
  };

  const contentType = result?.response?.headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
  let prettyBody: unknown = undefined;
  if (result?.response && contentType.includes('json')) {
    try {
      prettyBody = JSON.parse(result.response.body);
    } catch {
      /* show as text */
    }
  }

  return (
    <section class="card" aria-labelledby="run-title">
      <h2 id="run-title">Run</h2>
      <p class="muted small">
        Runs the saved version's <code>handle()</code> on your behalf, with your permissions in this app.
        {dirty && <strong> Save first to run your changes.</strong>}
      </p>
      <form class="form run-form" onSubmit={run}>
        <div class="run-line">
          <Field label="Method">
            {(a) => (
              <select {...a} value={method} onChange={(e) => setMethod(e.currentTarget.value)}>
                {METHODS.map((m) => (
                  <option>{m}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Path" class="grow">
            {(a) => <input {...a} class="mono" value={path} onInput={(e) => setPath(e.currentTarget.value)} spellcheck={false} />}
          </Field>
          <Field label="Query" class="grow" hint="e.g. name=Ada&lang=en">
            {(a) => <input {...a} class="mono" value={query} onInput={(e) => setQuery(e.currentTarget.value)} spellcheck={false} />}
          </Field>
        </div>
        <details class="run-more">
          <summary>Headers and body</summary>
          <div class="grid-2">
            <Field label="Headers" hint="One “Name: value” per line." error={headersError}>
              {(a) => <textarea {...a} class="mono" rows={4} value={headers} onInput={(e) => setHeaders(e.currentTarget.value)} spellcheck={false} />}
            </Field>
            <Field label="Body" hint="Sent as text (not with GET or HEAD).">
              {(a) => <textarea {...a} class="mono" rows={4} value={body} onInput={(e) => setBody(e.currentTarget.value)} spellcheck={false} />}
            </Field>
          </div>
        </details>
        <div class="form-actions">
          <p class="live-status" role="status" aria-live="polite">
            {busy ? 'Running…' : result ? `Run finished: ${result.ok ? 'ok' : 'failed'}, status ${result.status}.` : ''}
          </p>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            <Icon name="play" size={16} />
            Run
          </button>
        </div>
      </form>
      {error != null && <ErrorBanner error={error} title="Could not run the script" />}
      {result && (
        <div class="run-result" aria-label="Run result" role="region">
          <div class="run-summary">
            <span class={`badge ${result.ok ? 'badge-ok' : 'badge-danger'}`}>{result.ok ? 'ok' : 'error'}</span>
            <span>
              status <strong class="mono">{result.status}</strong>
            </span>
            <span>{formatMs(result.duration_ms)}</span>
            <span>{result.operations.toLocaleString()} operations</span>
            {result.execution_id && (
              <Link to={`/apps/${ctx.app.slug}/executions/${result.execution_id}`} class="small">
                execution record
              </Link>
            )}
          </div>
          {result.error && (
            <div class="banner banner-error">
              <span>
                <strong>{result.error.code}</strong>: {result.error.message}
              </span>
            </div>
          )}
          {result.response && (
            <div class="stack-sm">
              <h3>Response</h3>
              {result.response.headers.length > 0 && (
                <ul class="headers mono small">
                  {result.response.headers.map(([k, v]) => (
                    <li>
                      <span class="muted">{k}:</span> {v}
                    </li>
                  ))}
                </ul>
              )}
              {prettyBody !== undefined ? (
                <JsonView value={prettyBody} label="Response body" />
              ) : (
                <pre class="code-block" aria-label="Response body" tabIndex={0}>
                  {result.response.body || <span class="muted">(empty body)</span>}
                </pre>
              )}
            </div>
          )}
          <LogLines logs={result.logs} />
        </div>
      )}
    </section>
  );
}

export function LogLines({ logs, dropped }: { logs: { level: string; message: string; time?: string }[] | undefined; dropped?: number }) {
  return (
    <div class="stack-sm">
      <h3>Logs</h3>
      {!logs || logs.length === 0 ? (
        <p class="muted">The script wrote no log lines.</p>
      ) : (
        <ol class="logs" aria-label="Log lines">
          {logs.map((l) => (
            <li class={`log log-${l.level}`}>
              {l.time && <time class="log-time">{String(l.time).slice(11, 23)}</time>}
              <span class="log-level">{l.level}</span>
              <span class="log-msg">{l.message}</span>
            </li>
          ))}
        </ol>
      )}
      {dropped ? <p class="muted small">{dropped} more line{dropped === 1 ? '' : 's'} dropped (over the limit).</p> : null}
    </div>
  );
}
