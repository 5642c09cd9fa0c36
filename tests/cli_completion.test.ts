// One command table (host/cli/command_table.ts) drives `wavnet --help`, `wavnet help COMMAND`
// and the bash and zsh completion scripts: every command and option of the table is in all
// of them, and the bash script, sourced from `wavnet completion bash` in a real bash,
// completes commands, options, option values and topology files.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { COMMANDS, OPTIONS, usageLine, usageText } from "../host/cli/command_table.js";
import { cliMain } from "./helpers/cli.js";

const BIN = fileURLToPath(new URL("../bin/wavnet.mjs", import.meta.url));
const ZSH = spawnSync("sh", ["-c", "command -v zsh"], { encoding: "utf8" }).stdout.trim();

const wavnet = cliMain;

const names = (long: string) => [OPTIONS[long]!.long, ...(OPTIONS[long]!.short ? [OPTIONS[long]!.short!] : [])];
const has = (text: string, word: string) => new RegExp(`(^|[\\s'"(|\\[])${word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?=$|[\\s'"\\[\\])|])`, "m").test(text);

let dir: string;
let bin: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "wavnet-completion-"));
  // `wavnet` on PATH, as an installed package puts it there.
  bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "wavnet"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(bin, "wavnet"), 0o755);
  const labs = join(dir, "labs");
  mkdirSync(join(labs, "captures"), { recursive: true });
  for (const f of ["star.yaml", "tree.yml", "notes.txt"]) writeFileSync(join(labs, f), "");
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("every command and option of the table is in --help, help COMMAND, and both completion scripts", async () => {
  const help = await wavnet(["--help"]);
  const bash = await wavnet(["completion", "bash"]);
  const zsh = await wavnet(["completion", "zsh"]);
  assert.equal(help.code + bash.code + zsh.code, 0);
  for (const c of COMMANDS) {
    const one = await wavnet(["help", c.name]);
    assert.equal(one.code, 0, c.name);
    assert.ok(one.stdout.startsWith(`usage: ${usageLine(c)}\n`), c.name);
    assert.ok(help.stdout.includes(usageLine(c)) || c.name === "help", `--help: usage of ${c.name}`);
    assert.match(help.stdout, new RegExp(`^  ${c.name} +\\S`, "m"), `--help: ${c.name} described`);
    assert.ok(has(bash.stdout, c.name), `bash: ${c.name}`);
    assert.match(zsh.stdout, new RegExp(`^    '${c.name}:`, "m"), `zsh: ${c.name} described`);
    // The command's case in each script lists exactly its options.
    const bashCase = new RegExp(`^    ${c.name}\\) opts="([^"]*)"`, "m").exec(bash.stdout);
    assert.ok(bashCase, `bash: case ${c.name}`);
    assert.deepEqual(bashCase[1]!.split(" ").filter(Boolean).sort(), c.options.flatMap(names).sort(), `bash: options of ${c.name}`);
    const zshCase = new RegExp(`^    ${c.name}\\) _arguments (.*);;$`, "m").exec(zsh.stdout);
    assert.ok(zshCase, `zsh: case ${c.name}`);
    const zshOpts = [...zshCase[1]!.matchAll(/'(?:\*|\([^)]*\))?(-[a-z0-9-]+)\[/g)].map((m) => m[1]!);
    assert.deepEqual(zshOpts.sort(), c.options.flatMap(names).sort(), `zsh: options of ${c.name}`);
    for (const o of c.options) {
      const usageName = OPTIONS[o]!.short ?? OPTIONS[o]!.long;
      assert.ok(has(usageLine(c), usageName), `usage of ${c.name}: ${usageName}`);
      for (const n of names(o)) assert.ok(has(one.stdout, n), `help ${c.name}: ${n}`);
    }
  }
  for (const o of Object.keys(OPTIONS)) {
    assert.ok(COMMANDS.some((c) => c.options.includes(o)), `${o} belongs to a command`);
    assert.match(help.stdout, new RegExp(`^  (-\\w, )?${o}\\b`, "m"), `--help: ${o} described`);
  }
  // The command line's parsers know what the table says: an option of the table is accepted
  // (as far as the parser goes), one that is not is refused.
  assert.match((await wavnet(["run", "x.yaml", "--frob"])).stderr, /^wavnet run: Unknown option '--frob'/);
  assert.doesNotMatch((await wavnet(["run", "no-such.yaml", "-v"])).stderr, /Unknown option/);
  assert.doesNotMatch((await wavnet(["graph", "no-such.yaml", "-f", "dot"])).stderr, /Unknown option/);
});

test("help: one command's usage and options; bad requests are usage errors", async () => {
  const r = await wavnet(["help", "graph"]);
  assert.match(r.stdout, /^usage: wavnet graph FILE \[-f svg\|mermaid\|dot\|html\] \[-o OUT\]\n\n  a picture of the lab/);
  assert.match(r.stdout, /^  -f, --format svg\|mermaid\|dot\|html\n {19}graph: svg/m);
  assert.equal((await wavnet(["graph", "--help"])).stdout, r.stdout);
  assert.equal((await wavnet(["run", "-h"])).stdout, (await wavnet(["help", "run"])).stdout);
  assert.doesNotMatch((await wavnet(["help", "run"])).stdout, /--history|--ports/);
  const bad = await wavnet(["help", "frob"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^wavnet help: no command "frob" \(run, shell, check, graph, /);
  const c = await wavnet(["completion", "fish"]);
  assert.equal(c.code, 2);
  assert.equal(c.stderr.trim(), 'wavnet completion: which shell: bash or zsh, got "fish"');
});

/** What bash's completion offers for the command line `words` (the last one being completed). */
function complete(words: string[], cwd = join(dir, "labs")): string[] {
  const script = 'source <(wavnet completion bash); COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _wavnet; echo "${COMPREPLY[@]}"';
  const r = spawnSync("bash", ["-c", script, "bash", ...words], { cwd, encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "", words.join(" "));
  return r.stdout.trim().split(/\s+/).filter(Boolean).sort();
}

test("bash: the generated script completes commands, options, values and topology files", () => {
  assert.deepEqual(complete(["wavnet", "r"]), ["relay", "run"]);
  assert.deepEqual(complete(["wavnet", "c"]), ["check", "completion"]);
  assert.deepEqual(complete(["wavnet", "run", "--p"]), ["--pcap"]);
  assert.deepEqual(complete(["wavnet", "run", "-"]), COMMANDS.find((c) => c.name === "run")!.options.flatMap(names).sort());
  assert.deepEqual(complete(["wavnet", "shell", "--h"]), ["--history"]);
  assert.deepEqual(complete(["wavnet", "run", "--h"]), ["--hosts"]); // --history is shell's
  assert.deepEqual(complete(["wavnet", "graph", "--format", ""]), ["dot", "html", "mermaid", "svg"]);
  assert.deepEqual(complete(["wavnet", "graph", "-f", "m"]), ["mermaid"]);
  assert.deepEqual(complete(["wavnet", "run", "--pcap", ""]), ["captures"]);
  assert.deepEqual(complete(["wavnet", "run", "--seed", ""]), []);
  // FILE: topology files and folders, not other files.
  assert.deepEqual(complete(["wavnet", "run", ""]), ["captures", "star.yaml", "tree.yml"]);
  assert.deepEqual(complete(["wavnet", "check", "s"]), ["star.yaml"]);
  assert.deepEqual(complete(["wavnet", "run", "--virtual-time", "t"]), ["tree.yml"]);
  assert.deepEqual(complete(["wavnet", "completion", ""]), ["bash", "zsh"]);
  assert.deepEqual(complete(["wavnet", "help", "gr"]), ["graph"]);
});

test("zsh: the generated script parses and registers _wavnet for wavnet", { skip: ZSH ? false : "zsh not installed (apt-get install zsh)" }, () => {
  const r = spawnSync(ZSH, ["-f", "-c", `autoload -U compinit; compinit -u -d ${join(dir, "zcompdump")}; source <(wavnet completion zsh) && print -r -- $_comps[wavnet] && whence -w _wavnet`], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  assert.equal(r.stderr, "");
  assert.equal(r.stdout, "_wavnet\n_wavnet: function\n");
  const file = join(dir, "_wavnet");
  writeFileSync(file, spawnSync(bin + "/wavnet", ["completion", "zsh"], { encoding: "utf8" }).stdout);
  const n = spawnSync(ZSH, ["-n", file], { encoding: "utf8" });
  assert.equal(n.status, 0, n.stderr);
});

test("wavnet --help from the bin answers with the build's help.txt, which is the table's usage text", () => {
  const bin = fileURLToPath(new URL("../bin/wavnet.mjs", import.meta.url));
  const helpTxt = fileURLToPath(new URL("../dist/cli/help.txt", import.meta.url));
  assert.equal(readFileSync(helpTxt, "utf8"), `${usageText()}\n`, "dist/cli/help.txt is stale: npm run build");
  for (const flag of ["--help", "-h"]) {
    const r = spawnSync(process.execPath, [bin, flag], { encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${usageText()}\n`);
  }
});
