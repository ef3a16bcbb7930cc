import { useState } from 'preact/hooks';

export interface JsonViewProps {
  value: unknown;
  /** Levels open at first (default 2). */
  openDepth?: number;
  /** Accessible name of the region, e.g. "Payload". */
  label?: string;
  /** Offer a "Copy" button (default true). */
  copy?: boolean;
}

function Scalar({ v }: { v: unknown }) {
  if (v === null) return <span class="j-null">null</span>;
  switch (typeof v) {
    case 'string':
      return <span class="j-str">{JSON.stringify(v)}</span>;
    case 'number':
      return <span class="j-num">{String(v)}</span>;
    case 'boolean':
      return <span class="j-bool">{String(v)}</span>;
    default:
      return <span class="j-null">{String(v)}</span>;
  }
}

function Node({ name, v, depth, openDepth, last }: { name?: string; v: unknown; depth: number; openDepth: number; last: boolean }) {
  const key = name !== undefined ? <span class="j-key">{JSON.stringify(name)}: </span> : null;
  const comma = last ? '' : ',';
  if (v === null || typeof v !== 'object') {
    return (
      <div class="j-line">
        {key}
        <Scalar v={v} />
        {comma}
      </div>
    );
  }
  const isArr = Array.isArray(v);
  const entries: [string | undefined, unknown][] = isArr
    ? (v as unknown[]).map((x) => [undefined, x])
    : Object.entries(v as Record<string, unknown>);
  const [open, close] = isArr ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) {
    return (
      <div class="j-line">
        {key}
        {open + close}
        {comma}
      </div>
    );
  }
  const summary = isArr ? `${entries.length} item${entries.length === 1 ? '' : 's'}` : `${entries.length} key${entries.length === 1 ? '' : 's'}`;
  return (
    <details class="j-node" open={depth < openDepth}>
      <summary>
        {key}
        {open}
        <span class="j-summary">
          {' '}
          {summary} {close}
          {comma}
        </span>
      </summary>
      <div class="j-children">
        {entries.map(([k, x], i) => (
          <Node key={i} name={k} v={x} depth={depth + 1} openDepth={openDepth} last={i === entries.length - 1} />
        ))}
      </div>
      <div class="j-line j-close">
        {close}
        {comma}
      </div>
    </details>
  );
}

/** Pretty JSON with collapsible objects and arrays (native <details>, keyboard operable). */
export function JsonView({ value, openDepth = 2, label, copy = true }: JsonViewProps) {
  const [copied, setCopied] = useState(false);
  const doCopy = async () => {
    try {
      await navigator.clipboard.writeText(JSON.stringify(value, null, 2));
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      /* clipboard refused */
    }
  };
  return (
    <div class="json-view" role="region" aria-label={label ?? 'JSON'}>
      {copy && (
        <button type="button" class="btn btn-small json-copy" onClick={doCopy}>
          {copied ? 'Copied' : 'Copy JSON'}
        </button>
      )}
      <div class="json-tree">
        <Node v={value} depth={0} openDepth={openDepth} last />
      </div>
    </div>
  );
}
