// The command-line examples of the docs run: every scripted shell shown in README.md and
// docs/*.md (a `$ wavnet shell FILE ... <<'EOF'` block, or `printf '...' | wavnet shell FILE`)
// is run line by line against the shipped examples, and must exit 0 with nothing on stderr,
// so an example that names a node the file does not have fails here, not for a reader.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PassThrough } from "node:stream";
import { main } from "../host/cli/main.js";

const root = fileURLToPath(new URL("..", import.meta.url));

interface Example { where: string; args: string[]; lines: string[] }

/** The scripted shells of a markdown file, with where each is. */
function examples(file: string): Example[] {
  const text = readFileSync(join(root, file), "utf8").split("\n");
  const out: Example[] = [];
  let inCode = false;
  for (let i = 0; i < text.length; i++) {
    const l = text[i]!;
    if (/^\s*```/.test(l)) inCode = !inCode;
    if (!inCode) continue;
    const heredoc = /^\$ wavnet shell (.*?)\s*<<'?EOF'?$/.exec(l);
    if (heredoc) {
      const at = i + 1;
      const lines: string[] = [];
      for (i++; i < text.length && text[i] !== "EOF"; i++) lines.push(text[i]!);
      out.push({ where: `${file}:${at}`, args: heredoc[1]!.split(/\s+/), lines });
      continue;
    }
    const piped = /^(?:\$ )?printf '([^']*)' \| wavnet shell (\S+)(.*?)(?:\s+#.*)?$/.exec(l);
    if (piped) out.push({ where: `${file}:${i + 1}`, args: [piped[2]!, ...piped[3]!.trim().split(/\s+/).filter(Boolean)], lines: piped[1]!.split("\\n").filter((x) => x !== "") });
  }
  return out;
}

const files = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const all = files.flatMap(examples);

test("the docs show scripted shells (docs/cli.md's on examples/demo.yaml among them)", () => {
  assert.ok(all.some((e) => e.where.startsWith("docs/cli.md") && e.args[0] === "examples/demo.yaml"), JSON.stringify(all.map((e) => e.where)));
  assert.ok(all.length >= 2, `${all.length} examples`);
});

for (const ex of all) {
  test(`${ex.where}: wavnet shell ${ex.args.join(" ")} runs every line`, async () => {
    const pcap = mkdtempSync(join(tmpdir(), "wavnet-docs-"));
    try {
      const stdin = new PassThrough();
      const out = new PassThrough();
      const err = new PassThrough();
      let stdout = "";
      let stderr = "";
      out.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      err.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      stdin.end(ex.lines.map((l) => `${l}\n`).join(""));
      // Run from the repository root (the examples' paths are relative to it); captures go to a temporary folder.
      const cwd = process.cwd();
      process.chdir(root);
      let code: number;
      try {
        code = await main(["shell", ...ex.args, "--pcap", pcap], { stdin, stdout: out, stderr: err, stdoutTTY: false, stdinTTY: false });
      } finally {
        process.chdir(cwd);
      }
      await new Promise((r) => setImmediate(r));
      assert.equal(stderr, "", `${ex.where}: the example's lines wrote errors:\n${stderr}`);
      assert.equal(code, 0, stdout);
      for (const l of ex.lines) if (l.trim() !== "") assert.ok(stdout.includes(`wavnet> ${l}\n`), `${l} ran`);
    } finally {
      rmSync(pcap, { recursive: true, force: true });
    }
  });
}
