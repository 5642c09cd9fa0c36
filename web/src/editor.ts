// The YAML pane: CodeMirror 6 with YAML highlighting, and the topology's problems (the same
// checks as `wavnet run`: YAML syntax, the schema, meaning) as diagnostics at their line and
// column, in the gutter and in a list under the editor. Ctrl+Enter applies the file.

import { EditorView, basicSetup } from "codemirror";
import { keymap } from "@codemirror/view";
import { EditorState, Prec } from "@codemirror/state";
import { yaml } from "@codemirror/lang-yaml";
import { linter, lintGutter, type Diagnostic } from "@codemirror/lint";
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { tags as t } from "@lezer/highlight";
import type { Problem } from "../../host/web/protocol.js";
import { h } from "./util.js";

const theme = EditorView.theme(
  {
    "&": { color: "#e8edf2", backgroundColor: "#11161c", fontSize: "12.5px" },
    ".cm-content": { caretColor: "#ffd166", fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace' },
    ".cm-gutters": { backgroundColor: "#18202a", color: "#8796a8", border: "none" },
    ".cm-activeLine": { backgroundColor: "#1a2430" },
    ".cm-activeLineGutter": { backgroundColor: "#1f2935" },
    "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "#2b4a66 !important" },
    ".cm-tooltip": { backgroundColor: "#1f2935", color: "#e8edf2", border: "1px solid #334155" },
    ".cm-diagnostic-error": { borderLeftColor: "#ff8585" },
  },
  { dark: true },
);

/** Colours readable on the dark background (contrast 7:1 or better). */
const highlight = HighlightStyle.define([
  { tag: [t.propertyName, t.definition(t.propertyName)], color: "#8fd3ff" },
  { tag: [t.string, t.special(t.string)], color: "#b8e986" },
  { tag: [t.number, t.bool, t.null, t.atom], color: "#ffb86b" },
  { tag: [t.comment, t.lineComment], color: "#9aa8b8", fontStyle: "italic" },
  { tag: [t.punctuation, t.separator, t.squareBracket, t.brace], color: "#cbd5e1" },
  { tag: [t.keyword, t.meta, t.labelName], color: "#e2b4ff" },
  { tag: t.content, color: "#e8edf2" },
]);

export class YamlEditor {
  readonly view: EditorView;
  private quiet = false;

  constructor(
    parent: HTMLElement,
    private readonly list: HTMLElement,
    private readonly check: (text: string) => Promise<Problem[]>,
    onChange: (text: string) => void,
    onApply: () => void,
  ) {
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: "",
        extensions: [
          basicSetup,
          yaml(),
          theme,
          syntaxHighlighting(highlight),
          EditorView.lineWrapping,
          lintGutter(),
          linter((v) => this.lint(v), { delay: 350 }),
          Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => (onApply(), true) }])),
          EditorView.updateListener.of((u) => {
            if (u.docChanged && !this.quiet) onChange(u.state.doc.toString());
          }),
          EditorView.contentAttributes.of({ "aria-label": "Topology file (YAML)" }),
        ],
      }),
    });
  }

  get text(): string {
    return this.view.state.doc.toString();
  }

  /** Replace the text (no change event). */
  setText(text: string): void {
    this.quiet = true;
    try {
      this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text } });
    } finally {
      this.quiet = false;
    }
  }

  goto(line: number, column = 1): void {
    const doc = this.view.state.doc;
    const l = doc.line(Math.min(Math.max(1, line), doc.lines));
    const pos = Math.min(l.from + Math.max(0, column - 1), l.to);
    this.view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
    this.view.focus();
  }

  private async lint(v: EditorView): Promise<Diagnostic[]> {
    const text = v.state.doc.toString();
    let problems: Problem[];
    try {
      problems = await this.check(text);
    } catch {
      return [];
    }
    if (v.state.doc.toString() !== text) return [];
    this.showList(problems);
    const doc = v.state.doc;
    return problems.map((p) => {
      const l = doc.line(Math.min(Math.max(1, p.line || 1), doc.lines));
      const from = Math.min(l.from + Math.max(0, (p.column || 1) - 1), l.to);
      return { from, to: l.to > from ? l.to : from, severity: "error", message: `${p.path ? `${p.path}: ` : ""}${p.reason}` };
    });
  }

  /** Problems under the editor: "line:col: path: what", each one a link to its place. */
  showList(problems: Problem[]): void {
    this.list.replaceChildren(
      ...problems.map((p) => {
        const li = h("li", { tabindex: 0, title: "Go to the line", "data-line": p.line }, `${p.line ? `${p.line}:${p.column}: ` : ""}${p.path ? `${p.path}: ` : ""}${p.reason}`);
        const go = () => this.goto(p.line, p.column);
        li.addEventListener("click", go);
        li.addEventListener("keydown", (e) => (e.key === "Enter" ? go() : undefined));
        return li;
      }),
    );
  }
}
