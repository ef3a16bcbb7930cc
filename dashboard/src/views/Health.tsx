import { useState } from 'preact/hooks';
import { ADMIN, ApiError, request } from '../api';
import { useInterval, useLoad, useTitle } from '../hooks';
import { useSession } from '../session';
import { ErrorBanner, Icon } from '../ui';
import { formatBytes, formatMs, formatNumber, formatRelative, formatTime } from '../format';

interface Sample {
  labels?: Record<string, string>;
  value?: number;
  count?: number;
  sum?: number;
  buckets?: { le: string; count: number }[];
}
interface Metric {
  name: string;
  help?: string;
  type: 'counter' | 'gauge' | 'histogram' | string;
  samples: Sample[];
}

interface Ready {
  ready: boolean;
  database?: string;
  plugins?: string;
  [k: string]: unknown;
}

/** /readyz answers 503 with the same body when not ready: read it either way. */
async function readyz(): Promise<Ready> {
  const res = await fetch('/readyz', { cache: 'no-store', credentials: 'same-origin' });
  const text = await res.text();
  try {
    return JSON.parse(text) as Ready;
  } catch {
    return { ready: res.ok, detail: text.slice(0, 200) };
  }
}

// The groups shown, by metric name; everything else follows under "Other".
const GROUPS: [string, RegExp][] = [
  ['HTTP', /^picloud_http_/],
  ['Scripts and executions', /^picloud_(script|execution|app_runs|run)/],
  ['Dispatch, triggers and jobs', /^picloud_(dispatch|trigger|cron|job|queue|outbox)/],
  ['Dead letters', /^picloud_dead_letter/],
  ['Streams and cluster', /^picloud_(stream|cluster|connection)/],
  ['Database', /^picloud_(db|database)_/],
  ['Plugins', /^picloud_plugins?_/],
];

const isHist = (m: Metric) => m.type === 'histogram';

/** A metric's samples added up (a histogram: its observations), optionally only those whose labels match. */
function total(m: Metric | undefined, where?: (l: Record<string, string>) => boolean): number | null {
  if (!m) return null;
  return m.samples
    .filter((s) => !where || where(s.labels ?? {}))
    .reduce((a, s) => a + (isHist(m) ? (s.count ?? 0) : (s.value ?? 0)), 0);
}

function labelText(l: Record<string, string> | undefined) {
  if (!l || Object.keys(l).length === 0) return '';
  return Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(' · ');
}

/** The mean of a histogram, in a readable unit when the name says seconds. */
function mean(m: Metric): string | null {
  const count = total(m) ?? 0;
  if (!count) return null;
  const sum = m.samples.reduce((a, s) => a + (s.sum ?? 0), 0);
  const v = sum / count;
  if (/_seconds$/.test(m.name)) return formatMs(v * 1000);
  if (/_bytes$/.test(m.name)) return formatBytes(v);
  return formatNumber(v, 4);
}

const SERIES_SHOWN = 12;

function MetricCard({ m }: { m: Metric }) {
  const hist = isHist(m);
  const value = (s: Sample) => (hist ? (s.count ?? 0) : (s.value ?? 0));
  const series = m.samples.filter((s) => value(s) !== 0).sort((x, y) => value(y) - value(x));
  const avg = hist ? mean(m) : null;
  return (
    <li class="metric card">
      <div class="metric-head">
        <span class="metric-name mono">{m.name.replace(/^picloud_/, '')}</span>
        <span class="badge badge-muted">{m.type}</span>
      </div>
      <div class="metric-value">{formatNumber(total(m))}</div>
      {hist && <p class="small muted">observations{avg && <> · mean {avg}</>}</p>}
      {m.help && <p class="metric-help small muted">{m.help}</p>}
      {m.samples.length > 1 && series.length > 0 && (
        <details>
          <summary>
            {series.length} non-zero series of {m.samples.length}
          </summary>
          <table class="table table-compact">
            <caption class="sr-only">{m.name} by label</caption>
            <thead>
              <tr>
                <th scope="col">Labels</th>
                <th scope="col" class="num">
                  {hist ? 'Count' : 'Value'}
                </th>
              </tr>
            </thead>
            <tbody>
              {series.slice(0, SERIES_SHOWN).map((s) => (
                <tr>
                  <td class="mono small">{labelText(s.labels) || '—'}</td>
                  <td class="num">{formatNumber(value(s))}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {series.length > SERIES_SHOWN && <p class="small muted">and {series.length - SERIES_SHOWN} more</p>}
        </details>
      )}
    </li>
  );
}

interface NodeInfo {
  id: string;
  address: string;
  host_name: string;
  version: string;
  pid: number;
  started_at: string;
  heartbeat_at: string | null; // null on SQLite: its one node does not beat
  heartbeat_age_ms: number | null;
  alive: boolean;
  released_at: string | null;
  this_node: boolean;
}

/** The nodes serving this database (docs/cluster.md): one on SQLite, several on PostgreSQL. */
function Nodes({ nodes }: { nodes: NodeInfo[] }) {
  return (
    <table class="table table-compact">
      <caption class="sr-only">The nodes serving this database</caption>
      <thead>
        <tr>
          <th scope="col">Node</th>
          <th scope="col">Address</th>
          <th scope="col">Version</th>
          <th scope="col">Started</th>
          <th scope="col" class="num">
            Last beat
          </th>
          <th scope="col">State</th>
        </tr>
      </thead>
      <tbody>
        {nodes.map((n) => (
          <tr key={n.id}>
            <td class="mono small">
              {n.id}
              {n.this_node && (
                <>
                  {' '}
                  <span class="badge badge-muted">this node</span>
                </>
              )}
            </td>
            <td class="mono small">
              {n.address} · {n.host_name} · pid {n.pid}
            </td>
            <td class="small">{n.version}</td>
            <td class="small" title={formatTime(n.started_at)}>
              {formatRelative(n.started_at)}
            </td>
            <td class="num small">
              {n.heartbeat_age_ms === null ? <span title="One node on SQLite: it does not beat">—</span> : `${formatMs(n.heartbeat_age_ms)} ago`}
            </td>
            <td>
              <span class={`badge ${n.alive ? 'badge-ok' : 'badge-danger'}`}>{n.alive ? 'alive' : 'dead'}</span>
              {n.released_at && <span class="small muted"> · its runs given back {formatRelative(n.released_at)}</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Summary({ all }: { all: Metric[] }) {
  const by = (n: string) => all.find((m) => m.name === n);
  const tiles: [string, number | null, string?][] = [
    ['Requests', total(by('picloud_http_requests_total'))],
    ['Server errors (5xx)', total(by('picloud_http_requests_total'), (l) => l.status === '5xx'), 'danger'],
    ['In flight', total(by('picloud_http_requests_in_flight'))],
    ['Open connections', total(by('picloud_http_connections_open'))],
    ['Script runs', total(by('picloud_script_runs_total'))],
    ['Failed runs', total(by('picloud_script_runs_total'), (l) => (l.outcome ?? l.status) !== 'ok'), 'danger'],
    ['Queued runs', total(by('picloud_dispatch_queued'))],
    ['Dead letters made', total(by('picloud_dead_letters_total')), 'danger'],
    ['Open streams', total(by('picloud_streams_open'))],
    ['Plugins started', total(by('picloud_plugins_started'))],
  ];
  const shown = tiles.filter(([, v]) => v !== null);
  if (!shown.length) return null;
  return (
    <dl class="tiles" aria-label="Main metrics">
      {shown.map(([label, v, tone]) => (
        <div class={`tile ${tone === 'danger' && v ? 'tile-danger' : ''}`}>
          <dt>{label}</dt>
          <dd>{formatNumber(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Health() {
  useTitle('Health');
  const { me } = useSession();
  if (!me.owner) {
    return (
      <section class="page">
        <h1>Health</h1>
        <p>Only instance owners see the health and metrics.</p>
      </section>
    );
  }
  return <OwnerHealth />;
}

/** The page itself: it polls, so it is only mounted for owners. */
function OwnerHealth() {
  const [auto, setAuto] = useState(true);
  const ready = useLoad(readyz, []);
  const metrics = useLoad(() => request<{ metrics: Metric[] }>('GET', `${ADMIN}/metrics`), []);
  const nodes = useLoad(() => request<{ items: NodeInfo[] }>('GET', `${ADMIN}/nodes`), []);
  const nodesMissing = nodes.error instanceof ApiError && nodes.error.status === 404;
  useInterval(
    () => {
      void ready.reload();
      if (!(metrics.error instanceof ApiError && metrics.error.status === 404)) void metrics.reload();
      if (!nodesMissing) void nodes.reload();
    },
    5000,
    auto,
  );

  const missing = metrics.error instanceof ApiError && metrics.error.status === 404;
  const all = metrics.data?.metrics ?? [];
  const groups = GROUPS.map(([title, re]) => ({ title, items: all.filter((m) => re.test(m.name)) }));
  const grouped = new Set(groups.flatMap((g) => g.items));
  const other = all.filter((m) => !grouped.has(m));
  if (other.length) groups.push({ title: 'Other', items: other });

  const r = ready.data;
  return (
    <section class="page">
      <header class="page-head">
        <h1>Health</h1>
        <div class="toolbar-right">
          <label class="switch">
            <input type="checkbox" role="switch" checked={auto} onChange={(e) => setAuto(e.currentTarget.checked)} />
            <span>Refresh every 5 s</span>
          </label>
          <button
            type="button"
            class="btn"
            onClick={() => {
              void ready.reload();
              void metrics.reload();
              if (!nodesMissing) void nodes.reload();
            }}
          >
            <Icon name="refresh" size={16} />
            Refresh
          </button>
        </div>
      </header>
      <section class="card" aria-labelledby="ready-title">
        <h2 id="ready-title">Readiness</h2>
        {ready.error != null && <ErrorBanner error={ready.error} title="/readyz did not answer" />}
        <div role="status" aria-live="polite">
          {r && (
            <dl class="facts">
              <div>
                <dt>Ready</dt>
                <dd>
                  <span class={`badge ${r.ready ? 'badge-ok' : 'badge-danger'}`}>{r.ready ? 'ready' : 'not ready'}</span>
                </dd>
              </div>
              {Object.entries(r)
                .filter(([k]) => k !== 'ready')
                .map(([k, v]) => (
                  <div>
                    <dt>{k}</dt>
                    <dd>
                      <span class={`badge ${v === 'ok' || v === 'started' ? 'badge-ok' : 'badge-warn'}`}>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</span>
                    </dd>
                  </div>
                ))}
            </dl>
          )}
        </div>
      </section>
      {!nodesMissing && (
        <section class="card" aria-labelledby="nodes-title">
          <h2 id="nodes-title">Nodes</h2>
          {nodes.error != null && <ErrorBanner error={nodes.error} title="Could not load the nodes" onRetry={nodes.reload} />}
          {nodes.data && <Nodes nodes={nodes.data.items} />}
        </section>
      )}
      <section aria-labelledby="metrics-title" class="stack">
        <h2 id="metrics-title">Metrics</h2>
        {missing && <p class="banner banner-info">This PiCloud does not offer its metrics as JSON yet (GET /api/v1/admin/metrics is missing); a newer version does. The Prometheus text stays at /metrics.</p>}
        {!missing && metrics.error != null && <ErrorBanner error={metrics.error} title="Could not load the metrics" onRetry={metrics.reload} />}
        {!missing && !metrics.data && !metrics.error && <p class="muted">Loading…</p>}
        {all.length > 0 && <Summary all={all} />}
        {groups
          .filter((g) => g.items.length)
          .map((g) => (
            <details class="metric-group">
              <summary>
                <h3>{g.title}</h3>
                <span class="muted small">
                  {g.items.length} metric{g.items.length === 1 ? '' : 's'}
                </span>
              </summary>
              <ul class="metrics">
                {g.items.map((m) => (
                  <MetricCard key={m.name} m={m} />
                ))}
              </ul>
            </details>
          ))}
      </section>
    </section>
  );
}
