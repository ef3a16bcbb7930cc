// AngelScript highlighting: CodeMirror's C-like stream mode with
// AngelScript's keywords, types and literals.

import { StreamLanguage } from '@codemirror/language';
import { clike } from '@codemirror/legacy-modes/mode/clike';

const set = (s: string) => Object.fromEntries(s.split(/\s+/).filter(Boolean).map((w) => [w, true]));

export const KEYWORDS =
  'and abstract break case cast catch class const continue default do else enum explicit external final for from ' +
  'funcdef function get if import in inout interface is mixin namespace not or out override private property ' +
  'protected return set shared super switch this try typedef while xor';
export const TYPES =
  'void bool int int8 int16 int32 int64 uint uint8 uint16 uint32 uint64 float double auto string array dictionary ' +
  'dictionaryValue any ref weakref request response event';
export const ATOMS = 'true false null';

export const angelscript = StreamLanguage.define(
  clike({
    name: 'angelscript',
    keywords: set(KEYWORDS),
    types: set(TYPES),
    atoms: set(ATOMS),
    blockKeywords: set('case catch class do else enum for if interface namespace switch try while'),
    builtin: set(''),
    indentSwitch: true,
    namespaceSeparator: '::',
    typeFirstDefinitions: true,
    isOperatorChar: /[+\-*&%=<>!?|\/~^@]/,
  } as any),
);
