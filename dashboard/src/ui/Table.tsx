import type { ComponentChildren } from 'preact';

export interface Column<T> {
  /** Header text. */
  title: string;
  /** Cell content. */
  render: (row: T) => ComponentChildren;
  /** CSS class for the cells (e.g. "num", "mono", "actions"). */
  class?: string;
}

export interface TableProps<T> {
  /** Accessible caption (visually hidden unless captionVisible). */
  caption: string;
  captionVisible?: boolean;
  columns: Column<T>[];
  rows: T[] | null;
  rowKey: (row: T) => string;
  /** Shown in one cell when rows is an empty list. */
  empty?: ComponentChildren;
  /** Shown while rows is null. */
  loading?: boolean;
  rowClass?: (row: T) => string | undefined;
}

/** A data table with a caption, header cells with scope, an empty state and a loading state. */
export function Table<T>(p: TableProps<T>) {
  return (
    <div class="table-wrap">
      <table class="table">
        <caption class={p.captionVisible ? '' : 'sr-only'}>{p.caption}</caption>
        <thead>
          <tr>
            {p.columns.map((c) => (
              <th scope="col" class={c.class}>
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {p.rows === null ? (
            <tr>
              <td colSpan={p.columns.length} class="table-empty">
                {p.loading === false ? '' : 'Loading…'}
              </td>
            </tr>
          ) : p.rows.length === 0 ? (
            <tr>
              <td colSpan={p.columns.length} class="table-empty">
                {p.empty ?? 'Nothing here yet.'}
              </td>
            </tr>
          ) : (
            p.rows.map((r) => (
              <tr key={p.rowKey(r)} class={p.rowClass?.(r)}>
                {p.columns.map((c) => (
                  <td class={c.class}>{c.render(r)}</td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

/** Status text read out by screen readers when it changes. */
export function LiveStatus({ children }: { children?: ComponentChildren }) {
  return (
    <p class="live-status" role="status" aria-live="polite">
      {children}
    </p>
  );
}
