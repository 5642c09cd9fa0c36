// The topology file's steps, run from the page: progress as they go, then the same result
// table as `wavnet run` (number, step, result, time, figures, detail), as a table and as the
// CLI's own text.

import type { LabClient } from "../../host/web/client.js";
import type { LabInfo, StepResult } from "../../host/web/protocol.js";
import { figuresText } from "../../host/shell/results.js";
import { $in, download, fmtBytes, h, toast } from "./util.js";

const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`);

export class Steps {
  private readonly table = $in<HTMLTableElement>("steps");
  private readonly text = $in<HTMLElement>("stepsText");
  private readonly progress = $in<HTMLElement>("stepsProgress");
  private readonly button = $in<HTMLButtonElement>("runSteps");
  private info: LabInfo | null = null;
  private results = new Map<number, StepResult>();
  private running = -1;

  constructor(private readonly client: LabClient) {
    this.button.addEventListener("click", () => void this.run());
    client.on("step", (e) => {
      const s = e.step;
      if (s.type === "start") {
        this.running = s.index;
        this.progress.textContent = `[${s.index + 1}/${s.total}] ${s.name} ...`;
      } else if (s.type === "end") {
        this.results.set(s.index, s.result);
        this.running = -1;
        this.progress.textContent = `[${s.index + 1}/${s.total}] ${s.result.name}: ${s.result.ok ? "ok" : "FAIL"} (${fmtMs(s.result.durationMs)})`;
      } else this.progress.textContent = `at ${fmtMs(s.atMs)}: link ${s.link} conditions changed`;
      this.draw();
    });
  }

  setLab(info: LabInfo | null): void {
    this.info = info;
    this.results.clear();
    this.running = -1;
    this.text.textContent = "";
    this.progress.textContent = info ? `${info.steps.length} steps in ${info.name}` : "";
    this.button.disabled = !info || info.steps.length === 0;
    $in<HTMLElement>("files").replaceChildren();
    this.draw();
  }

  private draw(): void {
    const steps = this.info?.steps ?? [];
    const head = h("tr", {}, ...["#", "Step", "Result", "Time", "Figures", "Detail"].map((x) => h("th", { scope: "col" }, x)));
    const rows = steps.map((s) => {
      const r = this.results.get(s.index);
      return h("tr", { class: this.running === s.index ? "running" : "" },
        h("td", { class: "num" }, String(s.index + 1)),
        h("td", {}, r?.name ?? s.name),
        h("td", { class: r ? (r.ok ? "ok" : "fail") : "" }, r ? (r.ok ? "ok" : "FAIL") : this.running === s.index ? "running" : ""),
        h("td", { class: "num" }, r ? fmtMs(r.durationMs) : ""),
        h("td", {}, r ? figuresText(r.figures) : ""),
        h("td", {}, r?.detail ?? ""),
      );
    });
    this.table.replaceChildren(h("thead", {}, head), h("tbody", {}, ...rows));
  }

  /** Files the lab wrote (capture steps, the shell's capture): download links. */
  async files(): Promise<void> {
    const el = $in<HTMLElement>("files");
    const { files } = await this.client.request("files");
    el.replaceChildren(...(files.length ? [h("span", { class: "hint" }, "files: ")] : []), ...files.map((f) =>
      h("button", { type: "button", title: `Download ${f.path}`, onclick: async () => {
        const { bytes } = await this.client.request("readFile", { path: f.path });
        download(f.path.split("/").pop()!, bytes as BlobPart);
      } }, `${f.path.split("/").pop()} (${fmtBytes(f.bytes)})`),
    ));
  }

  async run(): Promise<void> {
    this.results.clear();
    this.text.textContent = "";
    this.button.disabled = true;
    this.draw();
    try {
      const r = await this.client.request("runSteps");
      this.text.textContent = `${r.table}\n\n${r.passed}`;
      this.progress.textContent = r.passed;
      await this.files();
    } catch (e) {
      toast(`steps: ${(e as Error).message}`);
    } finally {
      this.button.disabled = !this.info || this.info.steps.length === 0;
    }
  }
}
