// A console per node (xterm.js): a line editor with history (kept in localStorage) and Tab
// completion, running the `wavnet shell` language on that node: its BSD-named commands
// (ping, ifconfig, netstat, route, link, capture, ...) and the shell words (help, nodes,
// links, sleep), as `wavnet shell` does; `clear` and `exit` are the console's own.

import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import type { LabClient } from "../../host/web/client.js";
import { h } from "./util.js";

const RED = "\x1b[38;2;255;133;133m";
const DIM = "\x1b[38;2;169;182;196m";
const BOLD = "\x1b[1m";
const RESET = "\x1b[0m";
const HISTORY_MAX = 200;

class NodeConsole {
  readonly term: Terminal;
  readonly fit = new FitAddon();
  readonly el: HTMLElement;
  readonly tab: HTMLButtonElement;
  private line = "";
  private cursor = 0;
  private history: string[];
  private hpos = -1;
  private busy = false;
  private queued: string[] = [];

  constructor(readonly node: string, private readonly client: LabClient, private readonly host: Consoles) {
    this.el = h("div", { class: "console", role: "tabpanel", id: `console-${node}`, "aria-label": `Console of ${node}`, hidden: true });
    this.tab = h("button", { role: "tab", id: `tab-console-${node}`, "aria-controls": `console-${node}`, "aria-selected": "false", title: `Console on ${node} (double-click a node to open one)` },
      node, h("span", { class: "close", "aria-label": `Close the console of ${node}`, title: "Close" }, "×"));
    this.tab.querySelector(".close")!.addEventListener("click", (e) => {
      e.stopPropagation();
      host.close(node);
    });
    this.history = JSON.parse(localStorage.getItem(`wavnet.history.${node}`) ?? "[]") as string[];
    this.term = new Terminal({
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace',
      fontSize: 13,
      cursorBlink: true,
      convertEol: true,
      scrollback: 5000,
      screenReaderMode: false,
      theme: { background: "#11161c", foreground: "#e8edf2", cursor: "#ffd166", selectionBackground: "#2b4a66" },
    });
    this.term.loadAddon(this.fit);
    this.term.open(this.el);
    this.term.textarea?.setAttribute("aria-label", `Console of ${node}: type a command (help lists them), Tab completes`);
    this.term.onData((d) => this.input(d));
    this.term.writeln(`${DIM}console on ${BOLD}${node}${RESET}${DIM}: the commands of \`wavnet shell\` (help lists them); Tab completes, ↑↓ history${RESET}`);
    this.prompt();
  }

  private get promptText(): string {
    return `${this.node}> `;
  }

  private prompt(): void {
    this.line = "";
    this.cursor = 0;
    this.hpos = -1;
    this.term.write(`\x1b[38;2;92;200;255m${this.promptText}${RESET}`);
  }

  /** Redraw the line being edited, cursor at its place. */
  private redraw(): void {
    const back = this.line.length - this.cursor;
    this.term.write(`\r\x1b[K\x1b[38;2;92;200;255m${this.promptText}${RESET}${this.line}${back ? `\x1b[${back}D` : ""}`);
  }

  write(text: string, error = false): void {
    if (text === "") return;
    this.term.write(`${error ? RED : ""}${text.replace(/\r?\n/g, "\r\n")}${error ? RESET : ""}${text.endsWith("\n") ? "" : "\r\n"}`);
  }

  /** A line from outside (a test, a notice): shown and run as if typed. */
  async run(line: string): Promise<void> {
    this.line = line;
    this.cursor = line.length;
    this.redraw();
    await this.submit();
  }

  private input(d: string): void {
    if (this.busy) {
      if (d === "\x03") {
        // ^C: the worker stops the line (ping and traceroute print what they have); typed-ahead lines are dropped, as a shell does.
        this.queued.length = 0;
        this.term.write("^C\r\n");
        void this.client.request("interrupt", { node: this.node }).catch(() => undefined);
      } else this.queued.push(d);
      return;
    }
    // Several lines pasted at once: each runs in turn.
    if (d.length > 1 && /[\r\n]/.test(d) && !d.startsWith("\x1b")) {
      const parts = d.split(/\r\n|\r|\n/);
      const first = parts.shift()!;
      this.insert(first);
      this.queued.push(...parts.map((p, i) => (i < parts.length - 1 || p === "" ? `${p}\r` : p)).filter((p) => p !== ""));
      void this.submit();
      return;
    }
    switch (d) {
      case "\r":
        void this.submit();
        return;
      case "\x7f":
      case "\b":
        if (this.cursor > 0) {
          this.line = this.line.slice(0, this.cursor - 1) + this.line.slice(this.cursor);
          this.cursor--;
          this.redraw();
        }
        return;
      case "\x1b[3~":
        if (this.cursor < this.line.length) {
          this.line = this.line.slice(0, this.cursor) + this.line.slice(this.cursor + 1);
          this.redraw();
        }
        return;
      case "\x1b[D":
        if (this.cursor > 0) (this.cursor--, this.term.write(d));
        return;
      case "\x1b[C":
        if (this.cursor < this.line.length) (this.cursor++, this.term.write(d));
        return;
      case "\x1b[H":
      case "\x1bOH":
      case "\x01":
        this.cursor = 0;
        this.redraw();
        return;
      case "\x1b[F":
      case "\x1bOF":
      case "\x05":
        this.cursor = this.line.length;
        this.redraw();
        return;
      case "\x1b[A":
      case "\x1b[B": {
        if (this.history.length === 0) return;
        const up = d === "\x1b[A";
        this.hpos = up ? Math.min(this.hpos + 1, this.history.length - 1) : Math.max(this.hpos - 1, -1);
        this.line = this.hpos < 0 ? "" : this.history[this.history.length - 1 - this.hpos]!;
        this.cursor = this.line.length;
        this.redraw();
        return;
      }
      case "\t":
        void this.complete();
        return;
      case "\x03":
        this.term.write("^C\r\n");
        this.prompt();
        return;
      case "\x15":
        this.line = this.line.slice(this.cursor);
        this.cursor = 0;
        this.redraw();
        return;
      case "\x0c":
        this.term.clear();
        this.redraw();
        return;
    }
    if (d.startsWith("\x1b")) return;
    this.insert(d.replace(/[\x00-\x1f]/g, ""));
  }

  private insert(s: string): void {
    if (!s) return;
    this.line = this.line.slice(0, this.cursor) + s + this.line.slice(this.cursor);
    this.cursor += s.length;
    this.redraw();
  }

  private async complete(): Promise<void> {
    const before = this.line.slice(0, this.cursor);
    let r: { candidates: string[]; word: string };
    try {
      r = await this.client.request("complete", { node: this.node, line: before });
    } catch {
      return;
    }
    if (r.candidates.length === 0) return;
    let common = r.candidates[0]!;
    for (const c of r.candidates) while (!c.startsWith(common)) common = common.slice(0, -1);
    const add = common.slice(r.word.length) + (r.candidates.length === 1 ? " " : "");
    if (add) {
      this.insert(add);
      return;
    }
    this.term.write(`\r\n${DIM}${r.candidates.join("  ")}${RESET}\r\n`);
    this.redraw();
  }

  private async submit(): Promise<void> {
    const line = this.line;
    this.term.write("\r\n");
    const t = line.trim();
    if (t) {
      if (this.history[this.history.length - 1] !== t) this.history.push(t);
      if (this.history.length > HISTORY_MAX) this.history.splice(0, this.history.length - HISTORY_MAX);
      try {
        localStorage.setItem(`wavnet.history.${this.node}`, JSON.stringify(this.history));
      } catch {
        // storage full or denied: history stays for this page
      }
    }
    if (t === "clear") {
      this.term.clear();
    } else if (t === "exit" || t === "quit") {
      this.host.close(this.node);
      return;
    } else if (t) {
      this.busy = true;
      this.el.setAttribute("aria-busy", "true");
      try {
        const r = await this.client.request("shell", { node: this.node, line: t });
        this.write(r.out);
        if (r.error !== undefined) this.write(r.error, true);
      } catch (e) {
        this.write((e as Error).message, true);
      } finally {
        this.busy = false;
        this.el.removeAttribute("aria-busy");
      }
    }
    this.prompt();
    const next = this.queued.shift();
    if (next !== undefined) this.input(next);
  }

  dispose(): void {
    this.term.dispose();
    this.el.remove();
    this.tab.remove();
  }
}

export class Consoles {
  private all = new Map<string, NodeConsole>();
  private nodes: string[] = [];

  constructor(
    private readonly tabsEl: HTMLElement,
    private readonly body: HTMLElement,
    private readonly picker: HTMLSelectElement,
    private readonly client: LabClient,
    private readonly showPanel: (panel: string) => void,
  ) {
    picker.addEventListener("change", () => {
      if (picker.value) this.open(picker.value);
      picker.value = "";
    });
    new ResizeObserver(() => this.fitShown()).observe(body);
    this.empty();
  }

  private empty(): void {
    if (this.all.size === 0 && !this.body.querySelector(".empty")) {
      this.body.append(h("div", { class: "empty" }, "No console open: double-click a node, or pick one in “+ console…”."));
    }
  }

  setNodes(names: string[]): void {
    this.nodes = names;
    this.picker.replaceChildren(h("option", { value: "" }, "+ console…"), ...names.map((n) => h("option", { value: n }, n)));
    for (const [name, c] of this.all) {
      if (!names.includes(name)) c.write(`(node ${name} is not in the lab any more)`, true);
    }
  }

  /** Tell every console (the lab was reloaded, ...). */
  notice(text: string): void {
    for (const c of this.all.values()) c.term.write(`\r\n\x1b[38;2;169;182;196m${text}\x1b[0m\r\n${c.node}> `);
  }

  get(node: string): NodeConsole | undefined {
    return this.all.get(node);
  }

  open(node: string): NodeConsole {
    let c = this.all.get(node);
    if (!c) {
      this.body.querySelector(".empty")?.remove();
      c = new NodeConsole(node, this.client, this);
      this.all.set(node, c);
      this.tabsEl.append(c.tab);
      this.body.append(c.el);
    }
    this.showPanel(`console-${node}`);
    return c;
  }

  /** After its panel is shown: size it and give it the keyboard. */
  shown(panel: string): void {
    for (const c of this.all.values()) {
      const mine = panel === `console-${c.node}`;
      c.el.hidden = !mine;
      if (mine) {
        this.body.hidden = false;
        requestAnimationFrame(() => {
          c.fit.fit();
          c.term.focus();
        });
      }
    }
    this.body.hidden = !panel.startsWith("console-") && panel !== "consoles";
  }

  private fitShown(): void {
    for (const c of this.all.values()) if (!c.el.hidden) c.fit.fit();
  }

  close(node: string): void {
    const c = this.all.get(node);
    if (!c) return;
    const wasShown = !c.el.hidden;
    c.dispose();
    this.all.delete(node);
    const other = [...this.all.keys()][0];
    if (wasShown) {
      if (other) this.showPanel(`console-${other}`);
      else {
        this.empty();
        this.showPanel("consoles");
      }
    }
    void this.nodes;
  }
}
