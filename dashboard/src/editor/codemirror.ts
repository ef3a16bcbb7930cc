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
import { bracketMatching, indentOnInput, syntaxHighlighting, foldGutter, foldKeymap } from '@codemirror/language';
import { classHighlighter } from '@lezer/highlight';
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

export function createEditor(parent: HTMLElement, opts: EditorOptions): EditorHandle {
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
    parent,
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
        autocompletion({ override: [complete] }),
        angelscript,
        syntaxHighlighting(classHighlighter),
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
    destroy: () => view.destroy(),
  };
}
