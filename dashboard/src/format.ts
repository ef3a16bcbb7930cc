// Formatting helpers shared by the views.

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function formatRelative(iso: string | null | undefined): string {
  if (!iso) return '—';
  const t = new Date(iso).getTime();
  if (isNaN(t)) return String(iso);
  const s = Math.round((Date.now() - t) / 1000);
  const abs = Math.abs(s);
  const fmt = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  let text: string;
  if (abs < 5) return 'just now';
  if (abs < 60) text = fmt(abs, 'second');
  else if (abs < 3600) text = fmt(Math.round(abs / 60), 'minute');
  else if (abs < 86400) text = fmt(Math.round(abs / 3600), 'hour');
  else text = fmt(Math.round(abs / 86400), 'day');
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n == null || isNaN(Number(n))) return '—';
  const v = Number(n);
  if (v < 1024) return `${v} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(x < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatNumber(n: number | null | undefined, digits = 2): string {
  if (n == null || isNaN(Number(n))) return '—';
  const v = Number(n);
  if (Number.isInteger(v)) return v.toLocaleString();
  return v.toLocaleString(undefined, { maximumFractionDigits: digits });
}

export function formatMs(ms: number | null | undefined): string {
  if (ms == null) return '—';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Formats a value for a table cell by the contract's column formats. */
export function formatCell(v: unknown, format?: string): string {
  if (v === undefined || v === null) return '—';
  switch (format) {
    case 'time':
      return formatTime(String(v));
    case 'bytes':
      return formatBytes(Number(v));
    case 'bool':
      return v === true ? 'yes' : v === false ? 'no' : String(v);
    case 'json':
      return JSON.stringify(v);
    default:
      return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
}
