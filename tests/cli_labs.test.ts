// A kept lab seen from other processes: `wavnet run FILE --keep` owns it and serves its
// control socket; `wavnet inspect`, `exec`, `attach` and `destroy` are separate processes
// that look at it, run commands in it, and bring it down (the owner prints the teardown).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, existsSync, statSync, mkdirSync, chmodSync, chownSync } from "node:fs";
import { createConnection } from "node:net";
import { privateDir, MAX_REQUEST } from "../host/cli/control.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../bin/wavnet.mjs", import.meta.url));

const PAIR = `name: kept
nodes:
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }]
  - name: h2
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
links:
  - endpoints: [h1:eth0, h2:eth0]
steps:
  - ping: { from: h1, to: h2, count: 1 }
`;

test("run --keep, then inspect, exec, attach and destroy from other processes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wavnet-labs-"));
  const env = { ...process.env, WAVNET_RUN_DIR: join(dir, "run"), WAVNET_DEBUG: "" };
  const client = (args: string[], input = "") => spawnSync(process.execPath, [BIN, ...args], { env, input, encoding: "utf8", timeout: 60_000 });
  let owner: ChildProcess | undefined;
  try {
    const f = join(dir, "kept.yaml");
    writeFileSync(f, PAIR);
    owner = spawn(process.execPath, [BIN, "run", f, "--keep"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    owner.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    owner.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
    const closed = new Promise<number | null>((r) => owner!.on("close", r));
    const guard = setTimeout(() => owner!.kill(), 90_000);
    while (!/kept up as kept until wavnet destroy kept/.test(out)) {
      if (owner.exitCode !== null) assert.fail(`the owner ended:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // inspect: the list, one lab's nodes, --json.
    let r = client(["inspect"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^kept\\s+${owner.pid}\\s+2\\s+1\\s+virtual\\s+`, "m"));
    r = client(["inspect", "kept", "--json"]);
    const lab = JSON.parse(r.stdout) as { name: string; pid: number; nodes: { name: string; interfaces: { addresses: string[] }[] }[] };
    assert.equal(lab.pid, owner.pid);
    assert.deepEqual(lab.nodes.map((n) => [n.name, n.interfaces[0]!.addresses]), [["h1", ["10.0.0.1/24"]], ["h2", ["10.0.0.2/24"]]]);
    // exec: a command's output and status.
    r = client(["exec", "kept", "h1", "ping", "-c", "2", "h2"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^PING h2 \(10\.0\.0\.2\)[^]*2 packets transmitted, 2 packets received/);
    r = client(["exec", "kept", "h1", "ping", "-c", "1", "-W", "50", "10.0.0.99"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^ping: no reply from 10\.0\.0\.99 \(1 sent\)$/m);
    // A change made by one client is seen by the next: the lab is one.
    assert.equal(client(["exec", "kept", "h1", "sysctl", "net.inet.icmp.icmplim=5"]).status, 0);
    // attach: a script of lines, then quit leaves the lab up.
    r = client(["attach", "kept"], "h1 sysctl net.inet.icmp.icmplim\npingall\nquit\n");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^kept> h1 sysctl net\.inet\.icmp\.icmplim\nnet\.inet\.icmp\.icmplim: 5\n/m);
    assert.match(r.stdout, /\*\*\* Results: 0% dropped \(2\/2 received\)/);
    // Only this user reaches the socket; a request line past the limit is cut off, not kept.
    const sock = join(dir, "run", "kept.sock");
    assert.equal(statSync(sock).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "run")).mode & 0o777, 0o700);
    const cut = await new Promise<string>((resolve, reject) => {
      const c = createConnection(sock);
      let got = "";
      c.setEncoding("utf8").on("data", (d: string) => (got += d));
      const t = setTimeout(() => (c.destroy(), resolve(`${got}(still open after 10 s)`)), 10_000);
      c.on("close", () => (clearTimeout(t), resolve(got)));
      c.on("error", reject);
      c.write("x".repeat(MAX_REQUEST + 10));
    });
    assert.match(cut, /request longer than 65536 bytes without a newline: connection closed/);
    assert.equal(client(["exec", "kept", "h2", "ifconfig", "-l"]).status, 0); // the lab goes on
    // A second owner of the same name is refused, and the first lab is untouched.
    r = client(["run", f, "--keep"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /a lab named kept is already kept/);
    assert.equal(client(["exec", "kept", "h2", "ifconfig", "-l"]).stdout.trim(), "lo0 epair0b");
    // destroy: the owner brings it down, prints the teardown and exits 0; the socket goes.
    r = client(["destroy", "kept"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "kept: destroyed\n");
    assert.equal(await closed, 0, out);
    clearTimeout(guard);
    assert.match(out, /teardown: 2 vnets destroyed, 0 pages and 0 items leaked/);
    assert.ok(!existsSync(join(dir, "run", "kept.sock")));
    r = client(["exec", "kept", "h1", "ifconfig"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no lab named kept is running/);
  } finally {
    // A failed assertion must not leave the lab's process behind.
    if (owner && owner.exitCode === null) owner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the kept labs' folder must be private to this user", () => {
  const dir = mkdtempSync(join(tmpdir(), "wavnet-private-"));
  try {
    const made = join(dir, "new");
    privateDir(made);
    assert.equal(statSync(made).mode & 0o777, 0o700);
    const open = join(dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    assert.throws(() => privateDir(open), /may be entered by others \(mode 777\)/);
    const file = join(dir, "file");
    writeFileSync(file, "");
    assert.throws(() => privateDir(file), /EEXIST|is not a folder/);
    if (process.getuid?.() === 0) {
      const theirs = join(dir, "theirs");
      mkdirSync(theirs, { mode: 0o700 });
      chownSync(theirs, 65534, 65534);
      assert.throws(() => privateDir(theirs), /belongs to uid 65534, not to you/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
