// `wavnet shell` on a terminal: a pseudo-terminal from script(1) runs the bin, and keys are
// typed only after the prompt shows, so readline sees them as a user's: Tab completes,
// the up arrow recalls, ^C clears, and --history keeps the commands in a file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../bin/wavnet.mjs", import.meta.url));
const hasScript = spawnSync("script", ["--version"]).status === 0;

const PAIR = `nodes:
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }]
  - name: h2
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
links:
  - endpoints: [h1:eth0, h2:eth0]
`;

test("on a terminal: prompt, Tab completion, history recall and file, ^C", { skip: hasScript ? false : "script(1) is not installed (no pseudo-terminal)" }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "wavnet-tty-"));
  try {
    const topo = join(dir, "pair.yaml");
    const hist = join(dir, "history");
    writeFileSync(topo, PAIR);
    writeFileSync(hist, "h2 arp -an\n");
    const p = spawn("script", ["-qfec", `${process.execPath} ${BIN} shell ${topo} --virtual-time --history ${hist}`, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    const waiters: (() => void)[] = [];
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      for (const w of waiters.splice(0)) w();
    });
    let ended = false;
    const closed = new Promise<number | null>((r) =>
      p.on("close", (code) => {
        ended = true;
        for (const w of waiters.splice(0)) w();
        r(code);
      }),
    );
    /** Wait until the output holds n prompts (or the text), then type keys. */
    const until = async (what: number | string, keys: string) => {
      const ok = () => (typeof what === "number" ? out.split("wavnet> ").length - 1 >= what : out.includes(what));
      const guard = setTimeout(() => p.kill(), 20_000);
      while (!ok()) {
        if (ended) assert.fail(`never saw ${JSON.stringify(what)}; the terminal showed:\n${out}`);
        await new Promise<void>((r) => waiters.push(r));
      }
      clearTimeout(guard);
      p.stdin.write(keys);
    };
    await until(1, "h1 ifc\t");
    // A unique match gets its space: the next word is typed straight after.
    await until("h1 ifconfig ", "eth\t");
    await until("h1 ifconfig eth0 ", "\r");
    await until(2, "h1 ping -c 1 10.0.0.2\r");
    await until(3, "\x1b[A");
    await until(4, "\r"); // the up arrow brought the ping back: run it again
    await until(5, "\x1b[A\x1b[A\x1b[A\x1b[A"); // back past this session, into the file's history
    await until("h2 arp -an", "\x03");
    await until("(quit, exit or ^D to leave)", "quit\r");
    assert.equal(await closed, 0, out);
    assert.match(out, /^wavnet shell: .*2 nodes \(h1, h2\), virtual clock\. Type help\./m);
    assert.match(out, /\tdescription: eth0\r?\n/);
    assert.equal(out.match(/1 packets transmitted, 1 packets received/g)?.length, 2);
    assert.match(out, /teardown: 2 vnets destroyed/);
    assert.deepEqual(readFileSync(hist, "utf8").trim().split("\n"), ["h2 arp -an", "h1 ifconfig eth0", "h1 ping -c 1 10.0.0.2", "h1 ping -c 1 10.0.0.2", "quit"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("on a terminal, ping prints each reply as it comes and ^C stops it (not the shell), which prints the statistics of what it sent", { skip: hasScript ? false : "script(1) is not installed (no pseudo-terminal)" }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "wavnet-tty-"));
  try {
    const topo = join(dir, "pair.yaml");
    writeFileSync(topo, PAIR);
    const p = spawn("script", ["-qfec", `${process.execPath} ${BIN} shell ${topo} --real-time`, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    const closed = new Promise<number | null>((r) => p.on("close", r));
    const guard = setTimeout(() => p.kill(), 30_000);
    const until = async (re: RegExp) => {
      while (!re.test(out)) {
        if (p.exitCode !== null) assert.fail(`never saw ${re}; the terminal showed:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(/wavnet> /);
    const t0 = Date.now();
    // 100 pings 0.2 s apart: 20 s, unless ^C stops them.
    p.stdin.write("h1 ping -c 100 -i 0.2 h2\r");
    // Streaming: the replies show while the ping runs (the statistics are not there yet).
    await until(/icmp_seq=1 /);
    assert.doesNotMatch(out, /packets transmitted/);
    p.stdin.write("\x03");
    await until(/packets transmitted/);
    const ms = Date.now() - t0;
    const sent = Number(/(\d+) packets transmitted/.exec(out)![1]);
    assert.ok(sent >= 2 && sent < 100, `stopped after a few (${sent}):\n${out}`);
    assert.ok(ms < 10_000, `stopped at ^C (${ms} ms)`);
    await until(/packets transmitted[^]*wavnet> /);
    p.stdin.write("quit\r");
    assert.equal(await closed, 0, out);
    clearTimeout(guard);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
