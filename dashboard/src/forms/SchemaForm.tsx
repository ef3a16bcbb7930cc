// A form generated from a JSON Schema object: the filter of a trigger kind,
// the forms of plugins' views. Every input has its label, its description
// and its error beside it; the values are checked here before onSubmit, and
// the API's complaints (details.field) land next to the field they name.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { JSX } from 'preact';
import {
  collect,
  fieldKind,
  initialState,
  labelOf,
  properties,
  timeZones,
  type JsonSchema,
  type RawValue,
} from './schema';
import './forms.css';

export type { JsonSchema } from './schema';

export interface SchemaFormProps {
  schema: JsonSchema;
  initial?: Record<string, unknown>;
  submitLabel: string;
  onSubmit(values: Record<string, unknown>): Promise<void>;
  fieldErrors?: Record<string, string>;
  disabled?: boolean;
  /** Shown beside the submit button (e.g. a Cancel button). */
  extra?: JSX.Element | null;
}

let nextFormId = 0;

/** The field an error from the API names, when it names one. */
function errorField(e: unknown): string | undefined {
  const d = (e as { details?: { field?: unknown } } | null)?.details;
  return typeof d?.field === 'string' ? d.field : undefined;
}

export function SchemaForm(props: SchemaFormProps) {
  const { schema, initial, submitLabel, onSubmit, fieldErrors, disabled, extra } = props;
  const idBase = useMemo(() => `sf${++nextFormId}`, []);
  const [raw, setRaw] = useState<Record<string, RawValue>>(() => initialState(schema, initial));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );
  // The API's complaints arrive from the parent after a submit.
  useEffect(() => {
    if (fieldErrors) setErrors((prev) => ({ ...prev, ...fieldErrors }));
  }, [fieldErrors]);

  const set = (name: string, v: RawValue) => {
    setRaw((prev) => ({ ...prev, [name]: v }));
    if (errors[name]) setErrors((prev) => ({ ...prev, [name]: '' }));
  };

  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (busy || disabled) return;
    const { values, errors: found } = collect(schema, raw);
    setErrors(found);
    setFormError(null);
    const names = Object.keys(found);
    if (names.length > 0) {
      // Take the keyboard to the first field that needs attention.
      const el = document.getElementById(`${idBase}-${names[0]}`);
      el?.focus();
      return;
    }
    setBusy(true);
    try {
      await onSubmit(values);
    } catch (e) {
      if (!mounted.current) return;
      const field = errorField(e);
      const message = (e as Error)?.message ?? String(e);
      if (field && schema.properties?.[field]) {
        setErrors((prev) => ({ ...prev, [field]: message }));
        document.getElementById(`${idBase}-${field}`)?.focus();
      } else setFormError(message);
    } finally {
      if (mounted.current) setBusy(false);
    }
  };

  const required = new Set(schema.required ?? []);
  return (
    <form class="schema-form" onSubmit={submit} noValidate>
      {schema.description && <p class="schema-form-description">{schema.description}</p>}
      {properties(schema).map(([name, s]) => (
        <Field
          key={name}
          id={`${idBase}-${name}`}
          name={name}
          schema={s}
          required={required.has(name)}
          value={raw[name] ?? null}
          error={errors[name] || ''}
          disabled={!!disabled || busy}
          onChange={(v) => set(name, v)}
        />
      ))}
      {formError && (
        <p class="schema-form-error" role="alert">
          {formError}
        </p>
      )}
      <div class="schema-form-actions">
        <button type="submit" class="btn btn-primary" disabled={!!disabled || busy} aria-busy={busy}>
          {submitLabel}
        </button>
        {extra}
      </div>
    </form>
  );
}

interface FieldProps {
  id: string;
  name: string;
  schema: JsonSchema;
  required: boolean;
  value: RawValue;
  error: string;
  disabled: boolean;
  onChange(v: RawValue): void;
}

function Field({ id, name, schema: s, required, value, error, disabled, onChange }: FieldProps) {
  const kind = fieldKind(s);
  const label = labelOf(name, s);
  const descId = s.description ? `${id}-desc` : undefined;
  const errId = error ? `${id}-err` : undefined;
  const describedBy = [descId, errId].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    name,
    disabled,
    'aria-invalid': error ? ('true' as const) : undefined,
    'aria-describedby': describedBy,
    'aria-required': required ? ('true' as const) : undefined,
  };
  const text = typeof value === 'string' ? value : '';
  const description = s.description ? (
    <span id={descId} class="field-description">
      {s.description}
    </span>
  ) : null;
  const errorLine = error ? (
    <span id={errId} class="field-error" role="alert">
      {error}
    </span>
  ) : null;
  const mark = required ? <span class="field-required"> (required)</span> : null;

  if (s.readOnly) {
    return (
      <div class="field field-readonly">
        <label for={id}>{label}</label>
        <output id={id} name={name} aria-describedby={describedBy}>
          {typeof value === 'string' ? value : typeof value === 'boolean' ? (value ? 'yes' : 'no') : ''}
        </output>
        {description}
      </div>
    );
  }

  if (kind === 'checkbox') {
    return (
      <div class="field field-checkbox">
        <input
          type="checkbox"
          {...common}
          checked={value === true}
          onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked)}
        />
        <label for={id}>{label}</label>
        {description}
        {errorLine}
      </div>
    );
  }

  if (kind === 'checkboxes') {
    const chosen = Array.isArray(value) ? value : [];
    return (
      <fieldset class="field field-checkboxes" aria-describedby={describedBy} id={id} tabIndex={-1}>
        <legend>
          {label}
          {mark}
        </legend>
        {(s.items?.enum ?? []).map((option, i) => {
          const o = String(option);
          return (
            <span class="field-choice" key={o}>
              <input
                type="checkbox"
                id={`${id}-${i}`}
                disabled={disabled}
                checked={chosen.includes(o)}
                onChange={(e) => {
                  const on = (e.currentTarget as HTMLInputElement).checked;
                  onChange(on ? [...chosen.filter((c) => c !== o), o] : chosen.filter((c) => c !== o));
                }}
              />
              <label for={`${id}-${i}`}>{o}</label>
            </span>
          );
        })}
        {description}
        {errorLine}
      </fieldset>
    );
  }

  let input: JSX.Element;
  switch (kind) {
    case 'select':
      input = (
        <select {...common} value={text} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
          {(!required || text === '') && <option value="">{required ? 'Choose…' : '(none)'}</option>}
          {(s.enum ?? []).map((o) => (
            <option key={String(o)} value={String(o)}>
              {String(o)}
            </option>
          ))}
        </select>
      );
      break;
    case 'tristate':
      input = (
        <select {...common} value={text} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">{required ? 'Choose…' : '(not set)'}</option>
          <option value="true">yes</option>
          <option value="false">no</option>
        </select>
      );
      break;
    case 'timezone':
      input = <TimeZoneSelect common={common} value={text} required={required} onChange={onChange} />;
      break;
    case 'json':
    case 'textarea':
    case 'lines':
      input = (
        <textarea
          {...common}
          class={kind === 'json' ? 'mono' : undefined}
          rows={kind === 'json' ? 5 : 4}
          spellcheck={false}
          value={text}
          placeholder={kind === 'json' ? 'JSON' : kind === 'lines' ? 'one per line' : undefined}
          onInput={(e) => onChange((e.currentTarget as HTMLTextAreaElement).value)}
        />
      );
      break;
    case 'binary':
      input = (
        <input
          type="file"
          {...common}
          onChange={(e) => onChange((e.currentTarget as HTMLInputElement).files?.[0] ?? null)}
        />
      );
      break;
    case 'number':
      input = (
        <input
          type="number"
          {...common}
          value={text}
          min={s.minimum}
          max={s.maximum}
          step={s.type === 'integer' ? 1 : 'any'}
          onInput={(e) => onChange((e.currentTarget as HTMLInputElement).value)}
        />
      );
      break;
    default:
      input = (
        <input
          type={kind === 'password' ? 'password' : 'text'}
          autoComplete={kind === 'password' ? 'new-password' : 'off'}
          {...common}
          value={text}
          onInput={(e) => onChange((e.currentTarget as HTMLInputElement).value)}
        />
      );
  }
  return (
    <div class="field">
      <label for={id}>
        {label}
        {mark}
      </label>
      {input}
      {description}
      {errorLine}
    </div>
  );
}

function TimeZoneSelect({
  common,
  value,
  required,
  onChange,
}: {
  common: Record<string, unknown>;
  value: string;
  required: boolean;
  onChange(v: RawValue): void;
}) {
  const zones = useMemo(() => timeZones(value || undefined), []);
  return (
    <select {...common} value={value} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
      {(value === '' || !required) && <option value="">{required ? 'Choose…' : '(not set)'}</option>}
      {zones.map((z) => (
        <option key={z} value={z}>
          {z}
        </option>
      ))}
    </select>
  );
}
