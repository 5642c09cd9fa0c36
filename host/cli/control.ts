// A kept lab's control socket: `wavnet run FILE --keep` owns the lab and listens on a Unix
// socket named after it (WAVNET_RUN_DIR, else the OS temp folder's wavnet-UID/, NAME.sock);
// `wavnet inspect`, `wavnet exec`, `wavnet attach` and `wavnet destroy` are clients from
// other terminals. One JSON object per line each way: a request { op, ... } and its answer
// { ok, ... }. The lab runs every line through the same ShellCore as `wavnet shell`, so a
// line means the same typed there, sent by exec, or typed in attach.

import { createServer, createConnection, type Server, type Socket } from "node:net";
import { mkdirSync, readdirSync, rmSync, existsSync, lstatSync, chmodSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { ShellCore } from "../shell/shell.js";
import type { Session } from "./session.js";

export interface LabInfo {
  name: string;
  file: string;
  pid: number;
  clock: "virtual" | "real";
  nodes: { name: string; role: string; interfaces: { name: string; kernel: string; addresses: string[] }[] }[];
  links: { a: string; b: string }[];
}

export type Request = { op: "inspect" } | { op: "line"; line: string } | { op: "complete"; line: string } | { op: "destroy" };
export type Answer = { ok: true; lab?: LabInfo; out?: string; error?: string; candidates?: string[]; word?: string } | { ok: false; error: string };

/** Longest request line the lab reads (a shell line and its JSON wrapping). */
export const MAX_REQUEST = 64 * 1024;

/**
 * Make `dir` (the kept labs' folder) or check it: it must be a real folder owned by this
 * user that no one else may enter, since whoever can reach a lab's socket can run commands
 * in it. A folder under the shared temp folder could have been made by someone else first.
 */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = userInfo().uid;
  if (!st.isDirectory()) throw new Error(`${dir} is not a folder (kept labs' sockets go there; remove it or set WAVNET_RUN_DIR)`);
  if (uid >= 0 && st.uid !== uid) throw new Error(`${dir} belongs to uid ${st.uid}, not to you (uid ${uid}): refusing to put a lab's control socket there (set WAVNET_RUN_DIR)`);
  if ((st.mode & 0o077) !== 0) throw new Error(`${dir} may be entered by others (mode ${(st.mode & 0o777).toString(8)}): refusing to put a lab's control socket there (chmod 700 it, or set WAVNET_RUN_DIR)`);
}

/** Where kept labs' sockets are. */
export function controlDir(): string {
  return process.env.WAVNET_RUN_DIR ?? join(tmpdir(), `wavnet-${userInfo().uid}`);
}

export function socketPath(name: string): string {
  return join(controlDir(), `${name}.sock`);
}

/** The names of the labs with a socket (live or stale). */
export function labNames(): string[] {
  try {
    return readdirSync(controlDir()).filter((f) => f.endsWith(".sock")).map((f) => f.slice(0, -5)).sort();
  } catch {
    return [];
  }
}

/** Send one request to the lab named `name`; rejects when no lab answers there. */
export function request(name: string, req: Request, timeoutMs = 60_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const path = socketPath(name);
    const c: Socket = createConnection(path);
    let buf = "";
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`lab ${name}: no answer in ${timeoutMs / 1000} s`));
    }, timeoutMs);
    c.setEncoding("utf8");
    c.on("connect", () => c.write(`${JSON.stringify(req)}\n`));
    c.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      c.end();
      resolve(JSON.parse(buf.slice(0, nl)) as Answer);
    });
    c.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code === "ENOENT" || e.code === "ECONNREFUSED" ? `no lab named ${name} is running (wavnet run FILE --keep starts one; wavnet inspect lists them)` : `lab ${name}: ${e.message}`));
    });
  });
}

function info(s: Session): LabInfo {
  return {
    name: s.spec.name,
    file: s.spec.file,
    pid: process.pid,
    clock: s.topo.kernel.clock.kind,
    nodes: s.topo.nodes().map((n) => ({
      name: n.name,
      role: n.role,
      interfaces: n.interfaces().map((i) => ({ name: i.name, kernel: i.iface.alive ? i.iface.name : "", addresses: [...i.addresses] })),
    })),
    links: s.topo.links().map((l) => ({ a: l.a, b: l.b })),
  };
}

/**
 * Serve the lab on its socket until close(). `destroy` answers, then calls onDestroy (the
 * owner brings the lab down). A socket left by a lab that died is replaced; a live one is
 * an error (two labs of one name).
 */
export async function startControl(s: Session, onDestroy: () => void): Promise<{ path: string; close(): Promise<void> }> {
  const name = s.spec.name;
  const path = socketPath(name);
  privateDir(controlDir());
  if (existsSync(path)) {
    const alive = await request(name, { op: "inspect" }, 2000).then(() => true, () => false);
    if (alive) throw new Error(`a lab named ${name} is already kept (wavnet destroy ${name} first, or give the file another name:)`);
    rmSync(path, { force: true });
  }
  const core = new ShellCore(s);
  // One line at a time across every client: the kernel runs one command at a time, as a shell.
  let queue = Promise.resolve();
  const handle = async (req: Request): Promise<Answer> => {
    switch (req?.op) {
      case "inspect":
        return { ok: true, lab: info(s) };
      case "line": {
        const r = await core.run(String(req.line));
        return r.quit ? { ok: true, out: "", error: "quit leaves attach; the lab stays up (wavnet destroy ends it)" } : { ok: true, out: r.out, ...(r.error !== undefined ? { error: r.error } : {}) };
      }
      case "complete": {
        const [candidates, word] = core.complete(String(req.line));
        return { ok: true, candidates, word };
      }
      case "destroy":
        setImmediate(onDestroy);
        return { ok: true };
      default:
        return { ok: false, error: `unknown request ${JSON.stringify((req as { op?: unknown })?.op)} (inspect, line, complete, destroy)` };
    }
  };
  const server: Server = createServer((c) => {
    c.setEncoding("utf8");
    let buf = "";
    const line = (l: string): void => {
      queue = queue.then(async () => {
        let a: Answer;
        try {
          a = await handle(JSON.parse(l) as Request);
        } catch (e) {
          a = { ok: false, error: `bad request: ${(e as Error).message}` };
        }
        if (!c.destroyed) c.write(`${JSON.stringify(a)}\n`);
      });
    };
    c.on("data", (d: string) => {
      buf += d;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        line(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      // A request is one short line; a client that sends more without a newline is cut off
      // rather than held in memory.
      if (buf.length > MAX_REQUEST) {
        buf = "";
        c.end(`${JSON.stringify({ ok: false, error: `request longer than ${MAX_REQUEST} bytes without a newline: connection closed` })}\n`);
        c.destroy();
      }
    });
    c.on("error", () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600); // the folder is private already; the socket says so too
  return {
    path,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(path, { force: true });
    },
  };
}
