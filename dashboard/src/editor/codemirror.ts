// The script editor (a lazily loaded chunk): CodeMirror 6 with AngelScript
// highlighting and the compiler's errors and warnings as lint diagnostics.

import { EditorState, Compartment } from '@codemirror/state';
import {
  EditorView,
  keymap,
  lineNumbers,
  highlightActiveLine,
  highlightActiveLineGutter,
  drawSelection,
  highlightSpecialChars,
  rectangularSelection,
} from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { bracketMatching, indentOnInput, syntaxHighlighting, foldGutter, foldKeymap, HighlightStyle } from '@codemirror/language';
import { tags as t } from '@lezer/highlight';
import { closeBrackets, closeBracketsKeymap, autocompletion, completionKeymap, type CompletionSource } from '@codemirror/autocomplete';
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search';
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { angelscript, KEYWORDS, TYPES, ATOMS } from './angelscript';

export interface CompileMessage {
  line: number;
  column: number;
  message: string;
  section?: string;
  severity: 'error' | 'warning';
}

export interface EditorOptions {
  doc: string;
  readOnly?: boolean;
  /** The accessible name of the editing area. */
  label: string;
  onChange?: (doc: string) => void;
  /** Ctrl/Cmd-S. */
  onSave?: () => void;
  /** Extra completion words (e.g. the script API's namespaces and functions). */
  words?: string[];
}

export interface EditorHandle {
  getValue(): string;
  setValue(doc: string): void;
  setReadOnly(readOnly: boolean): void;
  setMessages(messages: CompileMessage[]): void;
  goTo(line: number, column: number): void;
  setWords(words: string[]): void;
  focus(): void;
  destroy(): void;
}

function position(state: EditorState, line: number, column: number): { from: number; to: number } {
  if (line < 1) return { from: 0, to: Math.min(state.doc.length, state.doc.line(1).to) };
  const l = state.doc.line(Math.min(line, state.doc.lines));
  const from = Math.min(l.from + Math.max(0, column - 1), l.to);
  // Underline the word at the column, or the rest of the line.
  const rest = state.sliceDoc(from, l.to);
  const word = /^[A-Za-z_0-9]+/.exec(rest);
  const to = word ? from + word[0].length : from < l.to ? from + 1 : from;
  return { from, to: Math.max(to, from) };
}

// Colours come from CSS custom properties (styles/base.css), which reach into
// the editor's shadow root, so light and dark follow the page.
const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.modifier, t.operatorKeyword], color: 'var(--tok-keyword)', fontWeight: '600' },
  { tag: [t.typeName, t.className, t.namespace], color: 'var(--tok-type)' },
  { tag: [t.string, t.special(t.string), t.character], color: 'var(--tok-string)' },
  { tag: [t.number, t.integer, t.float], color: 'var(--tok-number)' },
  { tag: [t.atom, t.bool, t.null], color: 'var(--tok-atom)' },
  { tag: [t.comment, t.lineComment, t.blockComment], color: 'var(--tok-comment)', fontStyle: 'italic' },
  { tag: [t.meta, t.processingInstruction], color: 'var(--tok-meta)' },
  { tag: [t.definition(t.variableName), t.function(t.variableName), t.special(t.variableName)], color: 'var(--tok-def)' },
  { tag: t.operator, color: 'var(--text-2)' },
  { tag: t.invalid, color: 'var(--danger)' },
]);

const theme = EditorView.theme({
  '&': { height: 'clamp(320px, 60vh, 900px)', fontSize: '13px', color: 'var(--text)', backgroundColor: 'var(--surface)' },
  '&.cm-focused': { outline: '2px solid var(--focus)', outlineOffset: '-2px' },
  '.cm-scroller': {
    fontFamily: "ui-monospace, SFMono-Regular, 'SF Mono', Menlo, Consolas, 'Liberation Mono', monospace",
    lineHeight: '1.55',
  },
  '.cm-content': { caretColor: 'var(--text)' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--text)' },
  '.cm-gutters': { backgroundColor: 'var(--surface-2)', color: 'var(--muted)', borderRight: '1px solid var(--border)' },
  '.cm-activeLine': { backgroundColor: 'color-mix(in srgb, var(--accent-soft) 45%, transparent)' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--accent-soft)' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, ::selection': {
    backgroundColor: 'color-mix(in srgb, var(--accent) 28%, transparent)',
  },
  '.cm-tooltip': { backgroundColor: 'var(--surface)', color: 'var(--text)', border: '1px solid var(--border-strong)', borderRadius: '6px' },
  '.cm-tooltip-autocomplete > ul > li[aria-selected]': { backgroundColor: 'var(--accent)', color: 'var(--on-accent)' },
  '.cm-panels': { backgroundColor: 'var(--surface-2)', color: 'var(--text)' },
  '.cm-searchMatch': { backgroundColor: 'color-mix(in srgb, var(--warn) 30%, transparent)' },
  '.cm-matchingBracket': { backgroundColor: 'color-mix(in srgb, var(--ok) 25%, transparent)', outline: 'none' },
});

/**
 * Creates the editor inside a shadow root of a new element in `parent`.
 * CodeMirror injects its styles at run time; in a shadow root it uses a
 * constructed stylesheet (adoptedStyleSheets), which the page's
 * Content-Security-Policy (style-src 'self') allows, where a <style> element
 * in the document would be refused.
 */
export function createEditor(parent: HTMLElement, opts: EditorOptions): EditorHandle {
  const host = document.createElement('div');
  host.className = 'cm-host';
  parent.appendChild(host);
  const shadow = host.attachShadow({ mode: 'open' });
  const readOnly = new Compartment();
  let words = opts.words ?? [];
  const base = [...KEYWORDS.split(' '), ...TYPES.split(' '), ...ATOMS.split(' ')].map((w) => ({ label: w, type: 'keyword' }));
  const complete: CompletionSource = (ctx) => {
    const m = ctx.matchBefore(/[A-Za-z_][A-Za-z0-9_:]*/);
    if (!m || (m.from === m.to && !ctx.explicit)) return null;
    return {
      from: m.from,
      options: [...base, ...words.map((w) => ({ label: w, type: w.includes('::') ? 'function' : 'namespace' }))],
      validFor: /^[A-Za-z0-9_:]*$/,
    };
  };

  const view = new EditorView({
    parent: shadow,
    root: shadow,
    state: EditorState.create({
      doc: opts.doc,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        foldGutter(),
        lintGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        rectangularSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        autocompletion({ override: [complete], icons: false }),
        angelscript,
        syntaxHighlighting(highlight),
        theme,
        EditorState.tabSize.of(2),
        readOnly.of([EditorState.readOnly.of(!!opts.readOnly), EditorView.editable.of(!opts.readOnly)]),
        keymap.of([
          {
            key: 'Mod-s',
            preventDefault: true,
            run: () => {
              opts.onSave?.();
              return true;
            },
          },
          ...closeBracketsKeymap,
          ...defaultKeymap,
          ...searchKeymap,
          ...historyKeymap,
          ...foldKeymap,
          ...completionKeymap,
          indentWithTab,
        ]),
        EditorView.contentAttributes.of({ 'aria-label': opts.label }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) opts.onChange?.(u.state.doc.toString());
        }),
      ],
    }),
  });

  return {
    getValue: () => view.state.doc.toString(),
    setValue: (doc) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: doc } }),
    setReadOnly: (ro) =>
      view.dispatch({ effects: readOnly.reconfigure([EditorState.readOnly.of(ro), EditorView.editable.of(!ro)]) }),
    setMessages: (messages) => {
      const diags: Diagnostic[] = messages
        .filter((m) => !m.section || m.section === 'main')
        .map((m) => ({ ...position(view.state, m.line, m.column), severity: m.severity, message: m.message }));
      view.dispatch(setDiagnostics(view.state, diags));
    },
    goTo: (line, column) => {
      const { from } = position(view.state, line, column);
      view.dispatch({ selection: { anchor: from }, scrollIntoView: true });
      view.focus();
    },
    setWords: (w) => {
      words = w;
    },
    focus: () => view.focus(),
    destroy: () => {
      view.destroy();
      host.remove();
    },
  };
}
