// The browser page (docs/web.md) in Debian's Chromium, driven by playwright-core: the page
// is built (vite build -> web/dist) and served with COOP/COEP by vite's preview server, then
// used as a person would: load an example, ping from a node's console, capture and decode,
// download the pcapng (tshark reads it), add a node and a link and ping it, a link at 100%
// loss and cut, the steps' table, time control, a link with the lab in it, and a YAML
// error shown at its line. Screenshots of the main views go to tests/browser/artifacts/.
//
// Without Chromium (/usr/bin/chromium, or CHROMIUM=path) the suite is skipped and says why;
// with WAVNET_BROWSER=1 (CI) a missing Chromium fails it instead.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { chromium, type Browser, type Page } from "playwright-core";
import { TSHARK, tsharkCheck } from "../helpers/tshark.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const artifacts = join(root, "tests/browser/artifacts");
const CHROMIUM = process.env.CHROMIUM ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const required = process.env.WAVNET_BROWSER === "1";
const skip: string | false = CHROMIUM ? false : required ? false : "Chromium not installed (apt-get install chromium; WAVNET_BROWSER=1 makes this a failure)";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

let browser: Browser;
let page: Page;
let server: { close(): Promise<void>; url: string } | undefined;
const errors: string[] = [];

async function shot(name: string): Promise<void> {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`) });
}

/** The text of a console's screen (xterm's rows). */
function screen(node: string): Promise<string> {
  return page.evaluate((n) => [...document.querySelectorAll(`#console-${n} .xterm-rows > div`)].map((d) => d.textContent ?? "").join("\n"), node);
}

async function typeIn(node: string, line: string): Promise<void> {
  await page.click(`#tab-console-${node}`);
  await page.click(`#console-${node} .xterm-screen`);
  await page.keyboard.type(`${line}\n`);
}

/** Run a line in a node's console and wait until its prompt comes back; the new text. */
async function run(node: string, line: string, timeout = 30_000): Promise<string> {
  await typeIn(node, line);
  await page.waitForFunction(
    ({ n, l }) => {
      const rows = [...document.querySelectorAll(`#console-${n} .xterm-rows > div`)].map((d) => d.textContent ?? "").filter((x) => x.trim());
      const i = rows.lastIndexOf(rows.filter((r) => r.includes(`${n}> ${l}`)).pop() ?? "\u0000");
      return i >= 0 && rows.length > i + 1 && rows[rows.length - 1]!.trim() === `${n}>`;
    },
    { n: node, l: line },
    { timeout },
  );
  const rows = (await screen(node)).split("\n").filter((l) => l.trim());
  const i = rows.map((r) => r.includes(`${node}> ${line}`)).lastIndexOf(true);
  return rows.slice(i + 1, -1).join("\n");
}

async function nodeAt(name: string): Promise<{ x: number; y: number }> {
  return page.evaluate((n) => {
    const cy = (window as unknown as { wavnet: { graph: { cy: import("cytoscape").Core } } }).wavnet.graph.cy;
    const r = cy.getElementById(n).renderedPosition();
    const box = cy.container()!.getBoundingClientRect();
    return { x: box.left + r.x, y: box.top + r.y };
  }, name);
}

async function edgeAt(index: number): Promise<{ x: number; y: number }> {
  return page.evaluate((i) => {
    const cy = (window as unknown as { wavnet: { graph: { cy: import("cytoscape").Core } } }).wavnet.graph.cy;
    const e = cy.getElementById(`l${i}`);
    const m = e.renderedMidpoint();
    const s = e.renderedSourceEndpoint();
    const box = cy.container()!.getBoundingClientRect();
    // a third of the way from the source end: clear of the label in the middle
    return { x: box.left + s.x + (m.x - s.x) * 0.6, y: box.top + s.y + (m.y - s.y) * 0.6 };
  }, index);
}

async function status(): Promise<string> {
  return (await page.textContent("#status")) ?? "";
}

describe("the browser page", { skip }, () => {
  before(async () => {
    if (!CHROMIUM) throw new Error("WAVNET_BROWSER=1 and no Chromium: apt-get install chromium (or set CHROMIUM=path)");
    const { build, preview } = await import("vite");
    const configFile = join(root, "web/vite.config.ts");
    await build({ configFile, logLevel: "warn" });
    const port = await freePort();
    const p = await preview({ configFile, logLevel: "warn", preview: { port, strictPort: true, host: "127.0.0.1" } });
    server = { url: `http://127.0.0.1:${port}/`, close: () => p.close() };
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"],
    });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 }, acceptDownloads: true });
    page = await ctx.newPage();
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("the page loads cross-origin isolated, boots the kernel in a worker and brings up the demo", async () => {
    await page.goto(`${server!.url}?fresh`);
    await page.waitForSelector("body[data-ready]", { timeout: 60_000 });
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, "COOP/COEP headers make the page cross-origin isolated");
    // The built page's head started the worker (vite.config.ts earlyWorker) and compiled the
    // kernel and GENERIC's modules beside it: the page itself fetched them, to hand them over.
    assert.equal(await page.evaluate(() => (window as unknown as { labWorker?: unknown }).labWorker instanceof Worker), true, "the head started the worker");
    // Before the stylesheet and the page's bundle: an inline script after a stylesheet waits for it.
    const html = readFileSync(join(root, "web/dist/index.html"), "utf8");
    const head = html.indexOf("labWorker=");
    assert.ok(head > 0 && head < html.indexOf('rel="stylesheet"') && head < html.indexOf('type="module"'), "the worker starts from the head's first script, before the stylesheet and the bundle");
    const wasm = await page.evaluate(() => performance.getEntriesByType("resource").map((e) => e.name).filter((n) => n.endsWith(".wasm")).map((n) => n.split("/wasm/")[1]));
    assert.ok(wasm.includes("kernel.wasm") && wasm.includes("modules/inet.wasm"), `the page compiles the binaries it hands the worker (it fetched ${wasm.join(", ") || "none"})`);
    assert.match(await status(), /^demo: 6 nodes, 5 links up in/);
    assert.equal(await page.evaluate(() => (window as unknown as { wavnet: { graph: { cy: import("cytoscape").Core } } }).wavnet.graph.cy.nodes().length), 6);
    // The console of the first host is open and has the keyboard.
    assert.ok(await page.isVisible("#console-c1"));
    await page.waitForFunction(() => document.activeElement?.classList.contains("xterm-helper-textarea") === true, null, { timeout: 5000 });
  });

  test("examples load from the menu: star.yaml, then demo.yaml again", async () => {
    await page.selectOption("#examples", "star.yaml");
    await page.waitForFunction(() => /^star: /.test(document.getElementById("status")?.textContent ?? ""), null, { timeout: 30_000 });
    await page.selectOption("#examples", "demo.yaml");
    await page.waitForFunction(() => /^demo: 6 nodes/.test(document.getElementById("status")?.textContent ?? ""), null, { timeout: 30_000 });
    assert.match(await page.evaluate(() => (window as unknown as { wavnet: { editor: { text: string } } }).wavnet.editor.text), /^# Two sites joined by a lossy WAN link/);
  });

  test("ping from c1's console gets replies across the WAN; Tab completes; history comes back", async () => {
    const out = await run("c1", "ping -c 3 -i 0.2 10.2.0.80");
    assert.match(out, /64 bytes from 10\.2\.0\.80: icmp_seq=0 ttl=62 time=\d+\.\d{3} ms/);
    assert.match(out, /3 packets transmitted, 3 packets received, 0\.0% packet loss/);
    // Tab: "netst" -> "netstat "
    await page.keyboard.type("netst");
    await page.keyboard.press("Tab");
    await page.waitForFunction(() => [...document.querySelectorAll("#console-c1 .xterm-rows > div")].some((d) => d.textContent?.includes("c1> netstat ")), null, { timeout: 5000 });
    await page.keyboard.type("-rn -f inet\n");
    await page.waitForFunction(() => [...document.querySelectorAll("#console-c1 .xterm-rows > div")].some((d) => /default\s+10\.1\.0\.1/.test(d.textContent ?? "")), null, { timeout: 5000 });
    // Up arrow twice: the ping again.
    await page.keyboard.press("ArrowUp");
    await page.keyboard.press("ArrowUp");
    await page.waitForFunction(() => (document.querySelector("#console-c1 .xterm-rows")?.textContent ?? "").includes("c1> ping -c 3 -i 0.2 10.2.0.80") , null, { timeout: 5000 });
    await page.keyboard.press("Control+C");
    await shot("console");
  });

  test("^C in a console stops a running ping, which prints the statistics of what it sent", async () => {
    // 1x virtual time: 100 pings 0.2 s apart would take 20 s.
    await page.selectOption("#speed", "1");
    await typeIn("c1", "ping -c 100 -i 0.2 10.2.0.80");
    await page.waitForFunction(() => document.getElementById("console-c1")?.getAttribute("aria-busy") === "true", null, { timeout: 5000 });
    await page.waitForTimeout(800);
    await page.keyboard.press("Control+C");
    // The line ends (the prompt is back) long before the 20 s the 100 pings would take.
    await page.waitForFunction(() => document.getElementById("console-c1")?.getAttribute("aria-busy") === null, null, { timeout: 5000 });
    const text = await screen("c1");
    const sent = Number([...text.matchAll(/(\d+) packets transmitted/g)].pop()![1]);
    assert.ok(sent >= 2 && sent < 100, `stopped after a few (${sent})`);
    assert.match(text, /c1> ping -c 100 -i 0\.2 10\.2\.0\.80\s*\n\^C\s*\n/);
  });

  test("a capture on ra:wan lists ICMP rows with a correct decode, and its pcapng reads cleanly in tshark", async () => {
    await page.click("#tab-packets");
    await page.selectOption("#capIface", "ra:wan");
    await page.click("#capStart");
    await page.waitForSelector("#capStop:not([disabled])");
    const out = await run("c1", "ping -c 2 -i 0.1 10.2.0.80");
    assert.match(out, /2 packets received/);
    await page.click("#tab-packets");
    await page.fill("#capFilter", "icmp");
    await page.waitForFunction(() => document.querySelectorAll("#packets tbody tr").length >= 4, null, { timeout: 10_000 });
    const rows = await page.$$eval("#packets tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")));
    const req = rows.filter((r) => r[5] === "ICMP" && r[7]!.startsWith("Echo (ping) request"));
    const rep = rows.filter((r) => r[5] === "ICMP" && r[7]!.startsWith("Echo (ping) reply"));
    assert.equal(req.length, 2, JSON.stringify(rows));
    assert.equal(rep.length, 2);
    assert.deepEqual(req[0]!.slice(2, 7), ["→ out", "10.1.0.11", "10.2.0.80", "ICMP", "98"]);
    assert.deepEqual(rep[0]!.slice(2, 7), ["← in", "10.2.0.80", "10.1.0.11", "ICMP", "98"]);
    // The filter: arp rows are gone while "icmp" is in it.
    assert.ok(rows.every((r) => r[5] === "ICMP"));
    // The decode of the first request, layer by layer.
    await page.click("#packets tbody tr:first-child");
    const layers = await page.$$eval("#packetDetail details", (ds) => ds.map((d) => ({ name: d.getAttribute("data-layer"), fields: Object.fromEntries([...d.querySelectorAll("dt")].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])) })));
    assert.deepEqual(layers.map((l) => l.name), ["Frame", "Ethernet II", "Internet Protocol Version 4", "Internet Control Message Protocol"]);
    assert.equal(layers[2]!.fields["Source"], "10.1.0.11");
    assert.equal(layers[2]!.fields["Destination"], "10.2.0.80");
    assert.equal(layers[2]!.fields["Time to live"], "63");
    assert.equal(layers[2]!.fields["Protocol"], "ICMP (1)");
    assert.equal(layers[3]!.fields["Type"], "8 (Echo (ping) request)");
    assert.equal(layers[3]!.fields["Sequence number"], "0");
    await shot("packets");
    // Download: a pcapng tshark reads, with the ICMP in it.
    const download = page.waitForEvent("download");
    await page.click("#capDownload");
    const d = await download;
    assert.equal(d.suggestedFilename(), "wavnet-ra-wan.pcapng");
    mkdirSync(artifacts, { recursive: true });
    const file = join(artifacts, "ra-wan.pcapng");
    await d.saveAs(file);
    assert.equal(readFileSync(file).readUInt32LE(0), 0x0a0d0d0a, "a pcapng section header");
    if (TSHARK) {
      const r = spawnSync(TSHARK, ["-r", file], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /ICMP .*Echo \(ping\) request/);
      const t = tsharkCheck(file, ["icmp.type"]);
      assert.deepEqual(t.errors, []);
      assert.equal(t.rows.filter((x) => x[0] === "8").length, 2);
    } else if (required) assert.fail("tshark is needed to check the download (apt-get install tshark)");
    await page.click("#capStop");
  });

  test("counters per interface and the throughput chart of a link", async () => {
    await page.click("#tab-counters");
    await page.waitForFunction(() => document.querySelectorAll("#counters tbody tr").length >= 12, null, { timeout: 10_000 });
    const wan = await page.$$eval("#counters tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")).find((r) => r[0] === "ra" && r[1] === "wan"));
    assert.ok(wan && Number(wan[5]) > 0, `ra:wan has sent packets: ${wan}`);
    await page.selectOption("#chartLink", "3");
    await page.waitForSelector("#chart .uplot canvas");
    await shot("counters");
  });

  test("add a node and a link in the graph, then ping it", async () => {
    const kernelS = async () => Number(((await page.textContent("#now")) ?? "").replace(/[^\d.]/g, ""));
    await page.waitForTimeout(300);
    const t0 = await kernelS();
    assert.ok(t0 > 0.2, `the lab has run a while (${t0} s)`);
    await page.selectOption("#addRole", "host");
    await page.click("#addNode");
    await page.waitForFunction(() => (window as unknown as { wavnet: { graph: { cy: import("cytoscape").Core } } }).wavnet.graph.cy.getElementById("n1").length === 1, null, { timeout: 30_000 });
    await page.click("#addLink");
    const a = await nodeAt("n1");
    await page.mouse.click(a.x, a.y);
    const w = await nodeAt("web");
    await page.mouse.click(w.x, w.y);
    await page.waitForFunction(() => /^demo: 7 nodes, 6 links/.test(document.getElementById("status")?.textContent ?? ""), null, { timeout: 30_000 });
    // Both came up in the running lab: no restart, kernel time went on.
    assert.match(await status(), /^demo: 7 nodes, 6 links; 1 link added to the running lab$/);
    assert.ok(await kernelS() >= t0, "kernel time did not start again at 0");
    const yaml = await page.evaluate(() => (window as unknown as { wavnet: { editor: { text: string } } }).wavnet.editor.text);
    assert.match(yaml, /- name: n1\n\s+interfaces:\n\s+- \{ name: eth0, addresses: \[ 10\.100\.0\.1\/24 \] \}/);
    assert.match(yaml, /endpoints: \[ n1:eth0, web:eth1 \]/);
    // The inspector shows the new link; web's console pings the new node.
    assert.match((await page.textContent("#inspectPane h2")) ?? "", /Link n1:eth0 – web:eth1/);
    await page.selectOption("#newConsole", "web");
    const out = await run("web", "ping -c 2 -i 0.1 10.100.0.1");
    assert.match(out, /2 packets transmitted, 2 packets received/);
    await shot("added-node");
    // The inspector edits the node: a second address and a route, written into the YAML and brought up.
    const n1 = await nodeAt("n1");
    await page.mouse.click(n1.x, n1.y);
    await page.waitForSelector("#insAddr-eth0");
    await page.fill("#insAddr-eth0", "10.100.0.1/24, 10.100.0.11/24");
    await page.click("#inspectPane button:text('+ route')");
    await page.fill("#inspectPane .route:last-of-type input[data-k=to]", "default");
    await page.fill("#inspectPane .route:last-of-type input[data-k=via]", "10.100.0.2");
    await page.click("#insApply");
    await page.waitForFunction(() => /routes: \[ \{ to: default, via: 10\.100\.0\.2 \} \]/.test((window as unknown as { wavnet: { editor: { text: string } } }).wavnet.editor.text), null, { timeout: 30_000 });
    await page.waitForFunction(() => /^demo: 7 nodes, 6 links/.test(document.getElementById("status")?.textContent ?? ""), null, { timeout: 30_000 });
    assert.match(await run("web", "ping -c 1 10.100.0.11"), /1 packets received/);
    await page.selectOption("#newConsole", "n1");
    assert.match(await run("n1", "netstat -rn -f inet"), /default\s+10\.100\.0\.2/);
  });

  test("a link at 100% loss fails the ping, restored it works; a click in cut mode cuts the WAN", async () => {
    // Select the WAN link (ra:wan - rb:wan is link 3) and set 100% loss both ways, live.
    await page.evaluate(() => (window as unknown as { wavnet: { graph: { fit(): void } } }).wavnet.graph.fit());
    const e = await edgeAt(3);
    await page.mouse.click(e.x, e.y);
    await page.waitForFunction(() => /Link ra:wan – rb:wan/.test(document.querySelector("#inspectPane h2")?.textContent ?? ""), null, { timeout: 5000 });
    await page.fill("#insC-ab-loss", "100%");
    await page.fill("#insC-ba-loss", "100%");
    await page.click("#insApplyLink");
    await page.waitForFunction(() => (document.querySelector("#insC-ab-loss") as HTMLInputElement | null)?.value === "100%", null, { timeout: 5000 });
    const failed = await run("c1", "ping -c 2 -i 0.1 -t 1 10.2.0.80");
    assert.match(failed, /100\.0% packet loss/);
    assert.match(failed, /ping: no reply from 10\.2\.0\.80/);
    // The YAML says so too (no reload).
    assert.match(await page.evaluate(() => (window as unknown as { wavnet: { editor: { text: string } } }).wavnet.editor.text), /loss: 100%/);
    await page.fill("#insC-ab-loss", "");
    await page.fill("#insC-ba-loss", "");
    await page.click("#insApplyLink");
    await page.waitForFunction(() => (document.querySelector("#insC-ab-loss") as HTMLInputElement | null)?.value === "", null, { timeout: 5000 });
    assert.match(await run("c1", "ping -c 2 -i 0.1 10.2.0.80"), /2 packets received/);
    // Cut mode: one click on the link cuts it, another restores it.
    await page.click("#cutMode");
    const e2 = await edgeAt(3);
    await page.mouse.click(e2.x, e2.y);
    await page.waitForFunction(() => /cut \(100% loss both ways\)/.test(document.getElementById("status")?.textContent ?? ""), null, { timeout: 5000 });
    assert.match(await run("c1", "ping -c 1 -t 1 10.2.0.80"), /100\.0% packet loss/);
    await shot("cut-link");
    await page.mouse.click(e2.x, e2.y);
    await page.waitForFunction(() => /restored/.test(document.getElementById("status")?.textContent ?? ""), null, { timeout: 5000 });
    await page.click("#cutMode");
    assert.match(await run("c1", "ping -c 1 10.2.0.80"), /1 packets received/);
  });

  test("time: paused, the clock stands still and a ping waits; a step moves to the next event; play finishes it", async () => {
    await page.click("#play");
    await page.waitForFunction(() => document.getElementById("play")?.getAttribute("aria-label") === "Play");
    const t0 = await page.textContent("#now");
    await page.waitForTimeout(400);
    assert.equal(await page.textContent("#now"), t0, "paused: kernel time stands still");
    await typeIn("c1", "ping -c 2 -i 1 10.2.0.80");
    await page.waitForTimeout(300);
    assert.doesNotMatch(await screen("c1"), /2 packets transmitted/);
    await page.click("#step");
    await page.waitForFunction((t) => document.getElementById("now")?.textContent !== t, t0, { timeout: 5000 });
    await page.selectOption("#speed", "Infinity");
    await page.click("#play");
    await page.waitForFunction(() => /2 packets transmitted, 2 packets received/.test(document.querySelector("#console-c1 .xterm-rows")?.textContent ?? ""), null, { timeout: 20_000 });
  });

  test("the file's steps run with the CLI's result table", async () => {
    await page.selectOption("#examples", "demo.yaml");
    await page.waitForFunction(() => /^demo: 6 nodes/.test(document.getElementById("status")?.textContent ?? ""), null, { timeout: 30_000 });
    await page.click("#tab-steps");
    await page.click("#runSteps");
    await page.waitForFunction(() => /steps passed/.test(document.getElementById("stepsText")?.textContent ?? ""), null, { timeout: 120_000 });
    const text = (await page.textContent("#stepsText")) ?? "";
    assert.match(text, /^#\s+STEP\s+RESULT\s+TIME\s+FIGURES\s+DETAIL/);
    assert.match(text, /11 of 11 steps passed/);
    const results = await page.$$eval("#steps tbody tr td:nth-child(3)", (tds) => tds.map((t) => t.textContent));
    assert.deepEqual(results, Array(11).fill("ok"));
    await page.waitForSelector("#files button");
    assert.match((await page.textContent("#files")) ?? "", /demo-wan\.pcapng/);
    await shot("steps");
  });

  test("packets animated along the links in slowed virtual time", async () => {
    await page.selectOption("#speed", "0.05");
    await page.check("#animate");
    await typeIn("c1", "ping -c 1 10.2.0.80");
    // The WAN (link 3) is 20 ms: at 0.05x a frame is on it for 0.4 s of wall time.
    await page.waitForFunction(() => {
      const g = (window as unknown as { wavnet: { graph: { dots: Map<number, { link: number; proto: string }> } } }).wavnet.graph;
      return [...g.dots.values()].some((d) => d.link === 3 && d.proto === "ICMP");
    }, null, { timeout: 20_000 });
    await shot("animation");
    await page.uncheck("#animate");
    await page.selectOption("#speed", "Infinity");
  });

  test("a link carries the lab: #yamlz= from Copy link, and #yaml= (base64) opens it", async () => {
    const small = "name: tiny\nnodes:\n  - name: a\n    interfaces: [{ name: eth0, addresses: [10.9.0.1/24] }]\n  - name: b\n    interfaces: [{ name: eth0, addresses: [10.9.0.2/24] }]\nlinks:\n  - endpoints: [a:eth0, b:eth0]\n";
    const b64 = Buffer.from(small).toString("base64url");
    const p2 = await page.context().newPage();
    await p2.goto(`${server!.url}#yaml=${b64}`);
    await p2.waitForSelector("body[data-ready]", { timeout: 60_000 });
    assert.match((await p2.textContent("#status")) ?? "", /^tiny: 2 nodes, 1 links/);
    await p2.click("#share");
    await p2.waitForFunction(() => location.hash.startsWith("#yamlz="));
    const link = p2.url();
    const p3 = await page.context().newPage();
    await p3.goto(link);
    await p3.waitForSelector("body[data-ready]", { timeout: 60_000 });
    assert.match((await p3.textContent("#status")) ?? "", /^tiny: 2 nodes, 1 links/);
    assert.equal(await p3.evaluate(() => (window as unknown as { wavnet: { editor: { text: string } } }).wavnet.editor.text), small);
    await p2.close();
    await p3.close();
  });

  test("a page lab joins a wavnet run --listen lab: a websocket interface added in the inspector, then a ping to a node behind the CLI lab's router", async () => {
    // The CLI lab: gw serves ws0 (listen: true) and routes to h1 behind it.
    const cliDir = mkdtempSync(join(tmpdir(), "wavnet-web-listen-"));
    const cliFile = join(cliDir, "gw.yaml");
    writeFileSync(cliFile, `name: gw
nodes:
  - name: gw
    role: router
    interfaces:
      - { name: ws0, kind: websocket, listen: true, addresses: [10.9.0.1/24] }
      - { name: eth0, addresses: [10.1.0.1/24] }
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.1.0.2/24] }]
    routes: [{ to: default, via: 10.1.0.1 }]
links:
  - endpoints: [gw:eth0, h1:eth0]
`);
    // wavnet run from the sources (tsx), as bin/wavnet.mjs runs the compiled CLI.
    const cli = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", "const m = await import(process.argv[1]); process.exit(await m.main(process.argv.slice(2)))",
      join(root, "host/cli/main.ts"), "run", cliFile, "--listen", "127.0.0.1:0"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const out = { stdout: "", stderr: "" };
    cli.stdout.setEncoding("utf8").on("data", (d: string) => (out.stdout += d));
    cli.stderr.setEncoding("utf8").on("data", (d: string) => (out.stderr += d));
    const closed = new Promise<number | null>((r) => cli.on("close", r));
    const until = async (re: RegExp, ms = 60_000) => {
      const t0 = Date.now();
      for (let m = re.exec(out.stdout); ; m = re.exec(out.stdout)) {
        if (m) return m;
        if (cli.exitCode !== null || Date.now() - t0 > ms) throw new Error(`no ${re} from wavnet run:\n${out.stdout}\n${out.stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      const url = (await until(/^ {2}gw:ws0 +(ws:\/\/127\.0\.0\.1:\d+\/gw\/ws0)$/m))[1]!;
      await until(/up until \^C or SIGTERM/);
      // The page's lab: one node, no interfaces yet.
      await page.click("#tab-yaml");
      await page.click("#editor .cm-content");
      await page.keyboard.press("Control+A");
      await page.keyboard.insertText("name: joiner\nnodes:\n  - name: pc\n");
      await page.click("#apply");
      await page.waitForFunction(() => /^joiner: 1 nodes, 0 links up/.test(document.getElementById("status")?.textContent ?? ""), null, { timeout: 30_000 });
      const pc = await nodeAt("pc");
      await page.mouse.click(pc.x, pc.y);
      await page.waitForFunction(() => /Node pc/.test(document.querySelector("#inspectPane h2")?.textContent ?? ""), null, { timeout: 5000 });
      await page.click("#insWs summary");
      // A URL the topology check refuses is refused here, before the YAML changes.
      await page.fill("#insWsUrl", url.replace("ws://", "http://"));
      await page.fill("#insWsAddr", "10.9.0.2/24");
      await page.click("#insWsAdd");
      await page.waitForFunction(() => /url: .* is not ws:\/\/ or wss:\/\//.test(document.getElementById("insWsError")?.textContent ?? ""), null, { timeout: 5000 });
      assert.doesNotMatch(await page.evaluate(() => (window as unknown as { wavnet: { editor: { text: string } } }).wavnet.editor.text), /websocket/);
      await page.fill("#insWsUrl", url);
      await page.click("#insWsAdd");
      const said = async (e: Error) => {
        throw new Error(`${e.message}\nstatus: ${await status()}\ntoast/errors: ${await page.textContent("#insWsError")}\n${await page.evaluate(() => (window as unknown as { wavnet: { editor: { text: string } } }).wavnet.editor.text)}`);
      };
      await page.waitForFunction((u) => (window as unknown as { wavnet: { editor: { text: string } } }).wavnet.editor.text.includes(`{ name: ws0, kind: websocket, url: ${u}, addresses: [ 10.9.0.2/24 ] }`), url, { timeout: 30_000 }).catch(said);
      await page.waitForFunction(() => /^joiner: 1 nodes, 0 links up .*; real clock/.test(document.getElementById("status")?.textContent ?? ""), null, { timeout: 30_000 }).catch(said);
      await until(/gw:ws0: peer 127\.0\.0\.1:\d+ joined/);
      // A route to the CLI lab's LAN through gw, in the inspector as well.
      await page.waitForSelector("#insUrl-ws0");
      assert.equal(await page.inputValue("#insUrl-ws0"), url);
      await page.click("#inspectPane button:text('+ route')");
      await page.fill("#inspectPane .route:last-of-type input[data-k=to]", "10.1.0.0/24");
      await page.fill("#inspectPane .route:last-of-type input[data-k=via]", "10.9.0.1");
      await page.click("#insApply");
      await page.waitForFunction(() => /routes: \[ \{ to: 10\.1\.0\.0\/24, via: 10\.9\.0\.1 \} \]/.test((window as unknown as { wavnet: { editor: { text: string } } }).wavnet.editor.text), null, { timeout: 30_000 });
      await page.waitForFunction(() => /^joiner: 1 nodes, 0 links up/.test(document.getElementById("status")?.textContent ?? ""), null, { timeout: 30_000 });
      await page.selectOption("#newConsole", "pc");
      // gw in the CLI process, then h1 behind it (TTL one less: gw forwarded it).
      assert.match(await run("pc", "ping -c 2 -i 0.2 10.9.0.1"), /2 packets transmitted, 2 packets received, 0\.0% packet loss/);
      const far = await run("pc", "ping -c 3 -i 0.2 10.1.0.2");
      assert.match(far, /64 bytes from 10\.1\.0\.2: icmp_seq=0 ttl=63 time=\d+\.\d{3} ms/);
      assert.match(far, /3 packets transmitted, 3 packets received, 0\.0% packet loss/);
      await shot("websocket");
      // The page's lab goes (its connection closes cleanly); the CLI lab stays up for the next peer.
      await page.selectOption("#examples", "demo.yaml");
      await page.waitForFunction(() => /^demo: 6 nodes/.test(document.getElementById("status")?.textContent ?? ""), null, { timeout: 30_000 });
      await until(/gw:ws0: peer 127\.0\.0\.1:\d+ left \(1000/);
      assert.equal(cli.exitCode, null);
    } finally {
      cli.kill("SIGTERM");
    }
    assert.equal(await closed, 0, out.stdout + out.stderr);
    assert.match(out.stdout, /teardown: 2 vnets destroyed, 0 pages and 0 items leaked/);
    rmSync(cliDir, { recursive: true, force: true });
  });

  test("a YAML error is shown at its line (gutter, underline, list) and the lab keeps running", async () => {
    await page.click("#tab-yaml");
    await page.click("#editor .cm-content");
    await page.keyboard.press("Control+A");
    await page.keyboard.insertText("name: broken\nnodes:\n  - name: a\n    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }]\n    colour: red\n");
    await page.click("#apply");
    await page.waitForSelector("#problems li", { timeout: 10_000 });
    const items = await page.$$eval("#problems li", (lis) => lis.map((l) => l.textContent ?? ""));
    assert.ok(items.some((t) => /^5:5: nodes\[0\]\.colour: unknown field "colour"/.test(t)), items.join("\n"));
    // The underline sits on line 5.
    await page.waitForSelector(".cm-lintRange-error", { timeout: 10_000 });
    const line = await page.evaluate(() => {
      const mark = document.querySelector(".cm-lintRange-error")!;
      const lineEl = mark.closest(".cm-line")!;
      return [...document.querySelectorAll(".cm-content .cm-line")].indexOf(lineEl) + 1;
    });
    assert.equal(line, 5);
    assert.ok(await page.isVisible(".cm-gutter-lint .cm-lint-marker-error"));
    assert.match(await status(), /1 problem; the lab running is the last good one/);
    await shot("yaml-error");
    assert.deepEqual(errors, [], "no page errors");
  });
});
