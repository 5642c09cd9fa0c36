// The clients of kept labs (host/cli/control.ts): `wavnet inspect [NAME] [--json]`,
// `wavnet exec NAME NODE CMD...`, `wavnet attach NAME`, `wavnet destroy NAME`. Each talks to
// the process that owns the lab over its control socket; none holds a kernel of its own.

import { createInterface } from "node:readline";
import { existsSync } from "node:fs";
import { formatTable } from "../lib/format.js";
import { request, labNames, socketPath, type LabInfo } from "./control.js";
import { EXIT, UsageError, write, type Io } from "./io.js";

async function lab(name: string): Promise<LabInfo> {
  const a = await request(name, { op: "inspect" });
  if (!a.ok || !a.lab) throw new Error(a.ok ? "no answer" : a.error);
  return a.lab;
}

/** wavnet inspect [NAME] [--json]: the kept labs, or one lab's nodes. */
export async function inspect(argv: string[], io: Io): Promise<number> {
  const json = argv.includes("--json");
  const names = argv.filter((a) => a !== "--json");
  if (names.some((n) => n.startsWith("-"))) throw new UsageError(`wavnet inspect: unknown option ${names.find((n) => n.startsWith("-"))} (only --json)`);
  if (names.length > 1) throw new UsageError("wavnet inspect: one lab name at most");
  if (names.length === 1) {
    const l = await lab(names[0]!);
    if (json) write(io.stdout, JSON.stringify(l, null, 2));
    else {
      write(io.stdout, `${l.name} (${l.file}): pid ${l.pid}, ${l.clock} clock, ${l.nodes.length} nodes, ${l.links.length} links`);
      write(io.stdout, formatTable(["NODE", "ROLE", "INTERFACES"], l.nodes.map((n) => [n.name, n.role, n.interfaces.map((i) => `${i.name}${i.addresses.length ? ` ${i.addresses.join(",")}` : ""}`).join("; ")])));
    }
    return EXIT.OK;
  }
  // Every lab that answers; a socket nobody answers on is a lab that died: left out.
  const labs = (await Promise.all(labNames().map((n) => lab(n).catch(() => undefined)))).filter((l): l is LabInfo => l !== undefined);
  if (json) write(io.stdout, JSON.stringify(labs, null, 2));
  else if (labs.length === 0) write(io.stdout, "no labs kept (wavnet run FILE --keep keeps one up)");
  else write(io.stdout, formatTable(["LAB", "PID", "NODES", "LINKS", "CLOCK", "FILE"], labs.map((l) => [l.name, l.pid, l.nodes.length, l.links.length, l.clock, l.file])));
  return EXIT.OK;
}

/** wavnet exec NAME NODE CMD...: one node command in the lab; its output, and exit 1 if it failed. */
export async function exec(argv: string[], io: Io): Promise<number> {
  if (argv.length < 3) throw new UsageError("wavnet exec: usage: wavnet exec LAB NODE COMMAND [ARGS] (wavnet exec demo c1 ping -c 1 web)");
  const [name, ...line] = argv;
  // Words with blanks were quoted on our command line: quote them again for the lab's shell.
  const text = line.map((w) => (/[\s'"\\]/.test(w!) ? `'${w!.replace(/'/g, "'\\''")}'` : w)).join(" ");
  const a = await request(name!, { op: "line", line: text });
  if (!a.ok) throw new Error(a.error);
  if (a.out) write(io.stdout, a.out);
  if (a.error !== undefined) {
    write(io.stderr, a.error);
    return EXIT.FAILED;
  }
  return EXIT.OK;
}

/** wavnet destroy NAME: the owner brings the lab down (its teardown goes to its own terminal). */
export async function destroy(argv: string[], io: Io): Promise<number> {
  if (argv.length !== 1) throw new UsageError("wavnet destroy: usage: wavnet destroy LAB");
  const name = argv[0]!;
  const a = await request(name, { op: "destroy" });
  if (!a.ok) throw new Error(a.error);
  // Gone when its socket is.
  for (let i = 0; i < 600 && existsSync(socketPath(name)); i++) await new Promise((r) => setTimeout(r, 50));
  write(io.stdout, `${name}: destroyed`);
  return EXIT.OK;
}

/**
 * wavnet attach NAME: a shell on a kept lab from another terminal. Lines go to the lab; quit
 * or ^D leaves the lab up. Reads a script when stdin is not a terminal, as wavnet shell.
 */
export async function attach(argv: string[], io: Io): Promise<number> {
  if (argv.length !== 1) throw new UsageError("wavnet attach: usage: wavnet attach LAB");
  const name = argv[0]!;
  const l = await lab(name);
  const prompt = `${name}> `;
  let failed = 0;
  const rl = io.stdinTTY
    ? createInterface({
        input: io.stdin, output: io.stdout, terminal: true,
        completer: (line: string, cb: (e: Error | null, r: [string[], string]) => void) => {
          request(name, { op: "complete", line }).then(
            (a) => cb(null, [a.ok ? (a.candidates ?? []).map((c, _i, all) => (all.length === 1 ? `${c} ` : c)) : [], a.ok ? (a.word ?? "") : ""]),
            () => cb(null, [[], line]),
          );
        },
      })
    : createInterface({ input: io.stdin, terminal: false });
  if (io.stdinTTY) {
    write(io.stdout, `wavnet attach: ${l.name}, ${l.nodes.length} nodes (pid ${l.pid}); quit leaves it up, wavnet destroy ${l.name} ends it.`);
    rl.setPrompt(prompt);
    rl.prompt();
  }
  for await (const line of rl) {
    const t = line.trim();
    if (!io.stdinTTY && t !== "") write(io.stdout, `${prompt}${line}`);
    if (t === "quit" || t === "exit") break;
    if (t !== "") {
      const a = await request(name, { op: "line", line });
      if (!a.ok) throw new Error(a.error);
      if (a.out) write(io.stdout, a.out);
      if (a.error !== undefined) {
        failed++;
        write(io.stderr, a.error);
      }
    }
    if (io.stdinTTY) rl.prompt();
  }
  rl.close();
  return !io.stdinTTY && failed ? EXIT.FAILED : EXIT.OK;
}
