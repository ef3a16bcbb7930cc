import type { ComponentChildren, JSX } from 'preact';
import { useId } from 'preact/hooks';

export interface FieldProps {
  label: string;
  hint?: ComponentChildren;
  error?: string | null;
  /** Render the input: receives the id and the aria attributes to spread on it. */
  children: (a: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }) => ComponentChildren;
  class?: string;
}

/** A labelled form field with an optional hint and an error next to it. */
export function Field({ label, hint, error, children, class: cls }: FieldProps) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errId = error ? `${id}-err` : undefined;
  const describedBy = [hintId, errId].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field ${error ? 'field-invalid' : ''} ${cls ?? ''}`}>
      <label for={id}>{label}</label>
      {children({ id, 'aria-describedby': describedBy, 'aria-invalid': error ? true : undefined })}
      {hint && (
        <p class="field-hint" id={hintId}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={errId}>
          {error}
        </p>
      )}
    </div>
  );
}

export type TextFieldProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, 'onInput' | 'value' | 'label'> & {
  label: string;
  value: string;
  onValue: (v: string) => void;
  hint?: ComponentChildren;
  error?: string | null;
};

/** A labelled text input. */
export function TextField({ label, value, onValue, hint, error, ...rest }: TextFieldProps) {
  return (
    <Field label={label} hint={hint} error={error}>
      {(a) => <input {...rest} {...a} value={value} onInput={(e) => onValue(e.currentTarget.value)} />}
    </Field>
  );
}

/** Returns the field the API named in an error, for showing the message next to it. */
export function fieldError(error: unknown, field: string): string | null {
  const e = error as any;
  if (e && e.details && (e.details.field === field || e.details.parameter === field)) return e.message;
  return null;
}
