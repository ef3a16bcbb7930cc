// The JSON Schema subset the dashboard's generated forms understand (the
// trigger filters the kernel and plugins declare, the forms of plugins'
// views), and the pure part of a form: the starting state of each field, and
// turning what the user typed into typed values or per-field complaints.
// No DOM here, so the rules can be read (and tested) on their own.

export interface JsonSchema {
  type?: 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array';
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  readOnly?: boolean;
}

/** What a field holds while the user edits it. */
export type RawValue = string | boolean | string[] | File | null;

/** How a property is edited. */
export type FieldKind =
  | 'text'
  | 'password'
  | 'textarea'
  | 'number'
  | 'checkbox' // a boolean with a default
  | 'tristate' // a boolean without one: not set, yes or no
  | 'select'
  | 'timezone'
  | 'json'
  | 'binary'
  | 'checkboxes' // an array of strings from an enum
  | 'lines'; // an array of strings, one per line

export function fieldKind(s: JsonSchema): FieldKind {
  if (s.format === 'binary') return 'binary';
  if (s.format === 'json' || s.type === undefined || s.type === 'object') return 'json';
  // Without a default a boolean may be left out (a change that does not touch it).
  if (s.type === 'boolean') return s.default === undefined ? 'tristate' : 'checkbox';
  if (s.type === 'array') return s.items?.enum ? 'checkboxes' : s.items?.type === 'string' || !s.items ? 'lines' : 'json';
  if (s.enum) return 'select';
  if (s.type === 'integer' || s.type === 'number') return 'number';
  if (s.format === 'timezone') return 'timezone';
  if (s.format === 'textarea') return 'textarea';
  if (s.format === 'password') return 'password';
  return 'text';
}

/**
 * The properties of an object schema in the order to show them: the required
 * ones first, in the order `required` lists them (a JSON object's key order
 * does not survive every server, an array's does), then the others as given.
 */
export function properties(schema: JsonSchema): [string, JsonSchema][] {
  const all = Object.entries(schema.properties ?? {});
  const required = (schema.required ?? []).filter((name) => schema.properties?.[name]);
  const first = required.map((name) => [name, schema.properties![name]] as [string, JsonSchema]);
  return [...first, ...all.filter(([name]) => !required.includes(name))];
}

/** A field's label: its title, else its name. */
export function labelOf(name: string, s: JsonSchema): string {
  return s.title || name;
}

/** Every time-zone name the browser knows, with `keep` (e.g. "UTC") added when missing. */
export function timeZones(keep?: string): string[] {
  const supported = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf;
  const zones = supported ? supported('timeZone') : [];
  const all = new Set(['UTC', ...zones]);
  if (keep) all.add(keep);
  return [...all].sort((a, b) => (a === 'UTC' ? -1 : b === 'UTC' ? 1 : a.localeCompare(b)));
}

/** The starting state of one field: the initial value if given, else the default. */
export function initialRaw(s: JsonSchema, given: unknown): RawValue {
  const v = given !== undefined ? given : s.default;
  switch (fieldKind(s)) {
    case 'binary':
      return null;
    case 'checkbox':
      return v === true;
    case 'tristate':
      return v === true ? 'true' : v === false ? 'false' : '';
    case 'checkboxes':
      return Array.isArray(v) ? v.map(String) : [];
    case 'lines':
      return Array.isArray(v) ? v.map(String).join('\n') : '';
    case 'json':
      return v === undefined ? '' : JSON.stringify(v, null, 2);
    case 'timezone':
      return v === undefined || v === null ? '' : String(v);
    case 'select':
      return v === undefined || v === null ? '' : String(v);
    default:
      return v === undefined || v === null ? '' : String(v);
  }
}

export function initialState(schema: JsonSchema, initial?: Record<string, unknown>): Record<string, RawValue> {
  const out: Record<string, RawValue> = {};
  for (const [name, s] of properties(schema)) out[name] = initialRaw(s, initial?.[name]);
  return out;
}

function checkNumber(s: JsonSchema, n: number): string | null {
  if (s.minimum !== undefined && n < s.minimum) return `must be at least ${s.minimum}`;
  if (s.maximum !== undefined && n > s.maximum) return `must be at most ${s.maximum}`;
  return null;
}

function checkString(s: JsonSchema, text: string): string | null {
  const length = [...text].length;
  if (s.minLength !== undefined && length < s.minLength)
    return `must have at least ${s.minLength} character${s.minLength === 1 ? '' : 's'}`;
  if (s.maxLength !== undefined && length > s.maxLength) return `must have at most ${s.maxLength} characters`;
  if (s.pattern !== undefined) {
    let re: RegExp | null = null;
    try {
      re = new RegExp(s.pattern, 'u');
    } catch {
      re = null; // a pattern JavaScript cannot read is left to the server
    }
    if (re && !re.test(text)) return `must match ${s.pattern}`;
  }
  return null;
}

/**
 * Turns the raw state into the values to send, or says what is wrong with
 * each field. Empty optional fields are left out; read-only fields are shown,
 * never sent; numbers are numbers, JSON fields parsed, binary fields the File.
 */
export function collect(
  schema: JsonSchema,
  raw: Record<string, RawValue>,
): { values: Record<string, unknown>; errors: Record<string, string> } {
  const values: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const required = new Set(schema.required ?? []);
  for (const [name, s] of properties(schema)) {
    if (s.readOnly) continue;
    const r = raw[name];
    const kind = fieldKind(s);
    const need = required.has(name);
    switch (kind) {
      case 'checkbox':
        values[name] = r === true;
        break;
      case 'tristate':
        if (r === 'true' || r === 'false') values[name] = r === 'true';
        else if (need) errors[name] = 'choose yes or no';
        break;
      case 'binary':
        if (r instanceof File) values[name] = r;
        else if (need) errors[name] = 'choose a file';
        break;
      case 'checkboxes': {
        const list = Array.isArray(r) ? r : [];
        if (list.length === 0 && need) errors[name] = 'choose at least one';
        else if (list.length > 0) values[name] = list;
        break;
      }
      case 'lines': {
        const list = String(r ?? '')
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '');
        if (list.length === 0 && need) errors[name] = 'required';
        else if (list.length > 0) {
          const bad = s.items ? list.map((l) => checkString(s.items!, l)).find((e) => e) : null;
          if (bad) errors[name] = `each line ${bad}`;
          else values[name] = list;
        }
        break;
      }
      case 'json': {
        const text = String(r ?? '').trim();
        if (text === '') {
          if (need) errors[name] = 'required';
          break;
        }
        try {
          const v = JSON.parse(text);
          if (s.type === 'object' && (v === null || typeof v !== 'object' || Array.isArray(v)))
            errors[name] = 'must be a JSON object';
          else values[name] = v;
        } catch (e) {
          errors[name] = `not valid JSON: ${(e as Error).message}`;
        }
        break;
      }
      case 'number': {
        const text = String(r ?? '').trim();
        if (text === '') {
          if (need) errors[name] = 'required';
          break;
        }
        const n = Number(text);
        if (!Number.isFinite(n)) errors[name] = 'must be a number';
        else if (s.type === 'integer' && !Number.isInteger(n)) errors[name] = 'must be a whole number';
        else {
          const bad = checkNumber(s, n);
          if (bad) errors[name] = bad;
          else values[name] = n;
        }
        break;
      }
      case 'select': {
        const text = String(r ?? '');
        if (text === '') {
          if (need) errors[name] = 'required';
          break;
        }
        // An enum may hold numbers or booleans: send the declared value, not its text.
        const match = (s.enum ?? []).find((e) => String(e) === text);
        values[name] = match === undefined ? text : match;
        break;
      }
      default: {
        const text = String(r ?? '');
        if (text === '') {
          if (need) errors[name] = 'required';
          break;
        }
        const bad = checkString(s, text);
        if (bad) errors[name] = bad;
        else values[name] = text;
      }
    }
  }
  return { values, errors };
}
