// Small DOM helpers for the page.

type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

/** h("button", { onclick: f, title: "x" }, "text", child) */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null | undefined | false)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v as EventListener);
    else if (k === "class") el.className = String(v);
    else if (k in el && k !== "list" && typeof v !== "string") (el as unknown as Record<string, unknown>)[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no #${id} in the page`);
  return el;
}

export function $in<T extends HTMLElement>(id: string): T {
  return $(id) as T;
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
export function toast(message: string, kind: "error" | "info" = "error"): void {
  const t = $("toast");
  t.textContent = message;
  t.className = kind === "info" ? "info" : "";
  t.hidden = false;
  if (toastTimer) clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), kind === "info" ? 2500 : 8000);
}

export function status(message: string, bad = false): void {
  const s = $("status");
  s.textContent = message;
  s.classList.toggle("bad", bad);
}

export function download(name: string, data: BlobPart, type = "application/octet-stream"): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Tabs in a tablist: each [role=tab] shows its aria-controls panel; onShow(id) after. */
export function tabs(list: HTMLElement, onShow?: (panel: string) => void): (panel: string) => void {
  const show = (panel: string) => {
    for (const t of list.querySelectorAll<HTMLElement>('[role="tab"]')) {
      const mine = t.getAttribute("aria-controls") === panel;
      t.setAttribute("aria-selected", String(mine));
      t.tabIndex = mine ? 0 : -1;
      const p = document.getElementById(t.getAttribute("aria-controls") ?? "");
      if (p) p.hidden = !mine;
    }
    onShow?.(panel);
  };
  list.addEventListener("click", (e) => {
    const t = (e.target as HTMLElement).closest<HTMLElement>('[role="tab"]');
    if (t && list.contains(t) && t.getAttribute("aria-controls")) show(t.getAttribute("aria-controls")!);
  });
  list.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    const all = [...list.querySelectorAll<HTMLElement>('[role="tab"]')];
    const i = all.indexOf(document.activeElement as HTMLElement);
    if (i < 0) return;
    const next = all[(i + (e.key === "ArrowRight" ? 1 : all.length - 1)) % all.length]!;
    next.focus();
    next.click();
  });
  return show;
}

/** µs as seconds with µs precision: "12.345678 s". */
export function fmtTime(us: number): string {
  return `${(us / 1e6).toFixed(6)} s`;
}

export function fmtBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

export function fmtRate(bps: number): string {
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(2)} Gbit/s`;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mbit/s`;
  if (bps >= 1e3) return `${(bps / 1e3).toFixed(1)} kbit/s`;
  return `${Math.round(bps)} bit/s`;
}
