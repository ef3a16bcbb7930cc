import { ApiError } from '../../api';

export interface Diag {
  line: number;
  column: number;
  message: string;
  section?: string;
  candidates?: { declaration: string; doc?: string }[];
}

/** Is this the API's 422 script_invalid (shown as a list of messages rather than a banner)? */
export function isCompileError(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'script_invalid';
}

/** The compiler's errors of a 422 script_invalid, as a list (nothing for other errors). */
export function CompileErrors({ error, onPick }: { error: unknown; onPick?: (d: Diag) => void }) {
  if (!(error instanceof ApiError) || error.code !== 'script_invalid') return null;
  const errors: Diag[] = error.details?.errors ?? [];
  const warnings: Diag[] = error.details?.warnings ?? [];
  return <DiagList errors={errors} warnings={warnings} onPick={onPick} />;
}

export function DiagList({ errors, warnings, onPick }: { errors: Diag[]; warnings: Diag[]; onPick?: (d: Diag) => void }) {
  if (!errors.length && !warnings.length) return null;
  const item = (d: Diag, sev: 'error' | 'warning') => {
    const where = d.line > 0 ? `line ${d.line}, column ${d.column}` : 'whole script';
    const section = d.section && d.section !== 'main' ? ` in module ${d.section}` : '';
    const text = (
      <>
        <span class={`sev sev-${sev}`}>{sev}</span>
        <span class="diag-where">
          {where}
          {section}
        </span>
        <span class="diag-msg">{d.message}</span>
      </>
    );
    return (
      <li class={`diag diag-${sev}`}>
        {onPick && d.line > 0 && (!d.section || d.section === 'main') ? (
          <button type="button" class="diag-btn" onClick={() => onPick(d)} title="Go to it in the editor">
            {text}
          </button>
        ) : (
          <div class="diag-btn">{text}</div>
        )}
        {d.candidates && d.candidates.length > 0 && (
          <ul class="candidates">
            {d.candidates.map((c) => (
              <li>
                <code>{c.declaration}</code>
                {c.doc && <span class="muted"> — {c.doc}</span>}
              </li>
            ))}
          </ul>
        )}
      </li>
    );
  };
  return (
    <section class="diagnostics" aria-label="Compiler messages">
      <h3>
        {errors.length > 0 && `${errors.length} error${errors.length === 1 ? '' : 's'}`}
        {errors.length > 0 && warnings.length > 0 && ', '}
        {warnings.length > 0 && `${warnings.length} warning${warnings.length === 1 ? '' : 's'}`}
      </h3>
      <ul>
        {errors.map((d) => item(d, 'error'))}
        {warnings.map((d) => item(d, 'warning'))}
      </ul>
    </section>
  );
}
