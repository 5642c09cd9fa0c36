// hosts.yaml: where the partitions of `wavnet run FILE --hosts hosts.yaml` run, one process
// per entry (docs/scale.md "Several processes or machines"). Parsed here, checked whole: an
// unknown key, a missing or repeated name, an entry that is neither local nor ssh, a bad ssh
// target or port is a TopologyError naming the file, line, column and field, as topology
// files' errors do (host/topology/locate.ts finds the place).
//
//   hosts:
//     - name: a
//       host: local                 # a child process of this one
//     - name: b
//       ssh: lab@192.0.2.7          # `ssh lab@192.0.2.7 <command>`
//       address: 192.0.2.7          # where the others send this host's VXLAN frames (default: the ssh host)
//       port: 4789                  # its first VXLAN UDP port, one more per cut link end (default 4789; local: free ports)
//       command: wavnet-partition   # the remote program (default wavnet-partition, the package's bin)
//   image: registry.example.org/wavnet:0.2.0   # --emit-k8s: the pods' image

import { parseDocument, LineCounter, isMap, isSeq } from "yaml";
import { Locator, type Path } from "../topology/locate.js";
import { TopologyError, TopologyErrors } from "../topology/errors.js";

export interface HostEntry {
  name: string;
  /** "local": a child process; "ssh": through ssh to `ssh`. */
  kind: "local" | "ssh";
  /** ssh: "user@host" or "host" (a name or address, [v6] allowed), as ssh takes it. */
  ssh?: string;
  /** ssh: extra port of the ssh server ("user@host:2222" is not ssh syntax; `sshPort: 2222`). */
  sshPort?: number;
  /** Address the other hosts send this host's VXLAN frames to. */
  address: string;
  /** First UDP port of this host's VXLAN ends; undefined: free ports picked on this machine (local only). */
  port?: number;
  /** ssh: the program the remote runs (the package's `wavnet-partition` bin by default). */
  command: string;
  /** Where the entry is (for errors that name it). */
  line: number;
}

export interface HostsFile {
  file: string;
  hosts: HostEntry[];
  /** --emit-k8s: the container image with wavnet installed (`image:` at the top). */
  image?: string;
}

const KEYS = ["name", "host", "ssh", "sshPort", "address", "port", "command"];
const NAME = /^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/;
// ssh's user@host: a user without spaces or shell metacharacters, a host name, IPv4 or [IPv6].
const SSH_TARGET = /^(?:[A-Za-z0-9._][A-Za-z0-9._-]*@)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;
export const DEFAULT_REMOTE_COMMAND = "wavnet-partition";
export const DEFAULT_VXLAN_PORT = 4789;

/** Parse and check hosts.yaml's text; throws TopologyError (one problem) or TopologyErrors (several). */
export function parseHosts(text: string, file = "hosts.yaml"): HostsFile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const loc = new Locator(doc, lc, file, text);
  const errs: TopologyError[] = [];
  const at = (path: Path, reason: string, key = false) => {
    const p = loc.at(path, key);
    errs.push(new TopologyError(reason, file, p.line, p.column, path.map((s) => (typeof s === "number" ? `[${s}]` : s)).join(".").replace(/\.\[/g, "[")));
  };
  for (const e of doc.errors) {
    const lp = lc.linePos(e.pos[0]);
    errs.push(new TopologyError(`YAML: ${e.message.split("\n")[0]}`, file, lp.line, lp.col));
  }
  if (errs.length) throw bundle(errs);
  if (!isMap(doc.contents)) throw new TopologyError("a hosts file is a mapping with a `hosts:` list at the top", file, 1, 1);
  const data = doc.toJS() as Record<string, unknown>;
  for (const k of Object.keys(data)) if (k !== "hosts" && k !== "image") at([k], `unknown key ${JSON.stringify(k)} (a hosts file has \`hosts:\` and, for --emit-k8s, \`image:\`)`, true);
  if (data.image !== undefined && (typeof data.image !== "string" || !data.image || /\s/.test(data.image))) at(["image"], `image must be a container image reference, got ${JSON.stringify(data.image)}`);
  const list = data.hosts;
  if (!Array.isArray(list) || !isSeq(doc.get("hosts"))) {
    at(list === undefined ? [] : ["hosts"], list === undefined ? "no `hosts:` list: name at least one host" : "`hosts:` must be a list of hosts");
    throw bundle(errs);
  }
  if (list.length === 0) {
    at(["hosts"], "no hosts: the list is empty (at least one entry, one process per partition)");
    throw bundle(errs);
  }
  const hosts: HostEntry[] = [];
  const seen = new Map<string, number>();
  list.forEach((raw, i) => {
    const here: Path = ["hosts", i];
    const line = loc.at(here).line;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      at(here, "a host is a mapping (name:, then host: local or ssh: user@host)");
      return;
    }
    const h = raw as Record<string, unknown>;
    for (const k of Object.keys(h)) if (!KEYS.includes(k)) at([...here, k], `unknown key ${JSON.stringify(k)} (a host has ${KEYS.join(", ")})`, true);
    const name = h.name;
    if (typeof name !== "string" || !NAME.test(name)) {
      at(name === undefined ? here : [...here, "name"], name === undefined ? "the host has no name" : `name ${JSON.stringify(name)}: lower-case letters, digits and '-' (it names a process, a pod and a DNS label)`);
      return;
    }
    const first = seen.get(name);
    if (first !== undefined) at([...here, "name"], `duplicate host name ${JSON.stringify(name)} (first at line ${first})`);
    else seen.set(name, line);
    let kind: "local" | "ssh" | undefined;
    if (h.host !== undefined && h.ssh !== undefined) at([...here, "ssh"], `host ${name}: both host: and ssh: (a host is local or reached by ssh, not both)`, true);
    else if (h.host !== undefined) {
      if (h.host !== "local") at([...here, "host"], `host ${name}: host: must be "local" (a remote host is given with ssh: user@host), got ${JSON.stringify(h.host)}`);
      else kind = "local";
    } else if (h.ssh !== undefined) {
      if (typeof h.ssh !== "string" || !SSH_TARGET.test(h.ssh)) at([...here, "ssh"], `host ${name}: bad ssh target ${JSON.stringify(h.ssh)}: user@host or host (a name, an IPv4 address or [IPv6]), no spaces, options or ports (sshPort: N)`);
      else kind = "ssh";
    } else at(here, `host ${name}: neither host: local nor ssh: user@host`);
    const port = h.port;
    if (port !== undefined && !(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535)) at([...here, "port"], `host ${name}: port must be a UDP port, 1 .. 65535, got ${JSON.stringify(port)}`);
    const sshPort = h.sshPort;
    if (sshPort !== undefined && (kind !== "ssh" || !(Number.isInteger(sshPort) && (sshPort as number) >= 1 && (sshPort as number) <= 65535))) {
      at([...here, "sshPort"], kind !== "ssh" ? `host ${name}: sshPort is for an ssh host` : `host ${name}: sshPort must be a TCP port, 1 .. 65535, got ${JSON.stringify(sshPort)}`);
    }
    if (h.command !== undefined && (kind !== "ssh" || typeof h.command !== "string" || !h.command.trim())) {
      at([...here, "command"], kind !== "ssh" ? `host ${name}: command is for an ssh host (a local host runs this wavnet)` : `host ${name}: command must be a non-empty string`);
    }
    const sshHost = typeof h.ssh === "string" ? h.ssh.replace(/^[^@]*@/, "").replace(/^\[(.*)\]$/, "$1") : undefined;
    const address = h.address ?? (kind === "local" ? "127.0.0.1" : sshHost);
    // (No address is worth a word only when the entry is otherwise right: a bad ssh target says it.)
    if ((kind || h.address !== undefined) && (typeof address !== "string" || !address || /\s/.test(address))) at([...here, "address"], `host ${name}: address must be a host name or IP address, got ${JSON.stringify(h.address)}`);
    if (!kind) return;
    hosts.push({
      name, kind, line, address: address as string,
      ...(kind === "ssh" ? { ssh: h.ssh as string } : {}),
      ...(typeof sshPort === "number" && kind === "ssh" ? { sshPort } : {}),
      ...(typeof port === "number" ? { port } : kind === "ssh" ? { port: DEFAULT_VXLAN_PORT } : {}),
      command: typeof h.command === "string" ? h.command : DEFAULT_REMOTE_COMMAND,
    });
  });
  if (errs.length) throw bundle(errs);
  return { file, hosts, ...(typeof data.image === "string" ? { image: data.image } : {}) };
}

function bundle(errs: TopologyError[]): TopologyError | TopologyErrors {
  errs.sort((a, b) => a.line - b.line || a.column - b.column);
  return errs.length === 1 ? errs[0]! : new TopologyErrors(errs);
}

/** Quote one word for the remote shell that ssh hands its command line to. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The argv that starts host h's partition through ssh: `ssh [options] -- target command`. */
export function sshArgv(h: HostEntry): string[] {
  // BatchMode: never ask for a password on a terminal the run does not own; the child's
  // stdin and stdout are the coordinator's channel.
  return ["ssh", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", ...(h.sshPort ? ["-p", String(h.sshPort)] : []), "-T", "--", h.ssh!, ...h.command.trim().split(/\s+/).map(shellQuote)];
}
