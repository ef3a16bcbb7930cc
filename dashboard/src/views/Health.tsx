import { useState } from 'preact/hooks';
import { ADMIN, ApiError, request } from '../api';
import { useInterval, useLoad, useTitle } from '../hooks';
import { useSession } from '../session';
import { ErrorBanner, Icon } from '../ui';
import { formatNumber } from '../format';

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

// The groups shown first, by metric name prefix; everything else follows under "Other".
const GROUPS: [string, RegExp][] = [
  ['HTTP requests', /^picloud_http_/],
  ['Executions', /^picloud_(execution|script|run)/],
  ['Queues and dispatch', /^picloud_(queue|dispatch|outbox|async|trigger)/],
  ['Dead letters', /^picloud_dead_letter/],
  ['Connections and streams', /^picloud_(connection|stream|sse|realtime|websocket)/],
  ['Database', /^picloud_(db|database|sqlite|postgres)/],
];

function sum(m: Metric): number {
  return m.samples.reduce((a, s) => a + (m.type === 'histogram' ? (s.count ?? 0) : (s.value ?? 0)), 0);
}

function labelText(l: Record<string, string> | undefined) {
  if (!l || Object.keys(l).length === 0) return '';
  return Object.entries(l)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
}

function MetricCard({ m }: { m: Metric }) {
  const total = sum(m);
  const hist = m.type === 'histogram';
  const s0 = m.samples[0];
  const mean = hist && s0 && s0.count ? (m.samples.reduce((a, s) => a + (s.sum ?? 0), 0) / Math.max(1, total)) : null;
  return (
    <li class="metric card">
      <div class="metric-head">
        <span class="metric-name mono">{m.name.replace(/^picloud_/, '')}</span>
        <span class="badge badge-muted">{m.type}</span>
      </div>
      <div class="metric-value">
        {formatNumber(total)}
        {hist && <span class="small muted"> observations{mean != null && <> · mean {formatNumber(mean, 4)}</>}</span>}
      </div>
      {m.help && <p class="metric-help small muted">{m.help}</p>}
      {m.samples.length > 1 && (
        <details>
          <summary>
            {m.samples.length} series
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
              {m.samples.map((s) => (
                <tr>
                  <td class="mono small">{labelText(s.labels) || '—'}</td>
                  <td class="num">{formatNumber(hist ? s.count : s.value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </li>
  );
}

export function Health() {
  useTitle('Health');
  const { me } = useSession();
  const [auto, setAuto] = useState(true);
  const ready = useLoad(readyz, []);
  const metrics = useLoad(() => request<{ metrics: Metric[] }>('GET', `${ADMIN}/metrics`), []);
  useInterval(
    () => {
      void ready.reload();
      if (!(metrics.error instanceof ApiError && metrics.error.status === 404)) void metrics.reload();
    },
    5000,
    auto,
  );

  if (!me.owner) {
    return (
      <section class="page">
        <h1>Health</h1>
        <p>Only instance owners see the health and metrics.</p>
      </section>
    );
  }

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
      <section aria-labelledby="metrics-title" class="stack">
        <h2 id="metrics-title">Metrics</h2>
        {missing && <p class="banner banner-info">This PiCloud does not offer its metrics as JSON yet (GET /api/v1/admin/metrics is missing); a newer version does. The Prometheus text stays at /metrics.</p>}
        {!missing && metrics.error != null && <ErrorBanner error={metrics.error} title="Could not load the metrics" onRetry={metrics.reload} />}
        {!missing && !metrics.data && !metrics.error && <p class="muted">Loading…</p>}
        {groups
          .filter((g) => g.items.length)
          .map((g) => (
            <section aria-label={g.title}>
              <h3>{g.title}</h3>
              <ul class="metrics">
                {g.items.map((m) => (
                  <MetricCard key={m.name} m={m} />
                ))}
              </ul>
            </section>
          ))}
      </section>
    </section>
  );
}
