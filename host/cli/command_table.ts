// The wavnet command's one table of commands and options. `wavnet --help`, `wavnet help
// COMMAND`, the bash and zsh completion scripts (host/cli/completion.ts) and the run/shell
// option parser (host/cli/main.ts) are all made from it, so none of them can name a command
// or an option the others do not know. Plain data: importing it costs nothing.

export interface OptionSpec {
  /** "--pcap" */
  long: string;
  /** "-q" */
  short?: string;
  /** The value's name ("DIR"), for an option that takes one. */
  value?: string;
  /** What completes the value: a folder, any file, a topology file, or one of these words. */
  complete?: "dir" | "file" | "topology" | readonly string[];
  /** Given more than once (--allow-origin). */
  multiple?: boolean;
  /** Options that exclude each other share a group: usage shows [--a | --b]. */
  group?: string;
  /** Only with this option (usage shows it inside that option's brackets). */
  with?: string;
  /** Help lines, each at most 62 columns so that help fits 80. */
  help: readonly string[];
}

export interface CommandSpec {
  name: string;
  /** Positional words in usage order ("FILE", "[LAB]", "CMD..."). */
  args: readonly string[];
  /** What completes the first positional word. */
  complete?: "topology" | "commands" | readonly string[];
  /** Long names of its options (OPTIONS below), in usage order. */
  options: readonly string[];
  /** Those of its options that must be given (usage shows them without brackets). */
  required?: readonly string[];
  /** Help lines (what --help prints beside the name). */
  help: readonly string[];
  /** Also accepted as (e.g. --version for version). */
  aliases?: readonly string[];
}

export const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  "--virtual-time": { long: "--virtual-time", group: "clock", help: ["run on virtual time: exact, repeatable, as fast as the work (the", "default, unless the file says clock: real)"] },
  "--real-time": { long: "--real-time", group: "clock", help: ["run on the wall clock (timers), whatever the file says"] },
  "--seed": { long: "--seed", value: "N", help: ["seed of the kernel's random numbers (loss, jitter, ISNs)"] },
  "--pcap": { long: "--pcap", value: "DIR", complete: "dir", help: ["where capture files go (created if missing); run with no capture", "steps: every link end into DIR/LAB.pcapng"] },
  "--listen": {
    long: "--listen",
    value: "[HOST:]PORT",
    help: [
      "serve the file's websocket interfaces with listen: true at",
      "ws://HOST:PORT/NODE/IFACE (HOST default 127.0.0.1; 0.0.0.0 or [::]",
      "for every address; PORT 0: any free one), so a browser page's lab or",
      "another wavnet joins this one; run stays up after its steps until",
      "^C or SIGTERM, then brings the lab down",
    ],
  },
  "--allow-origin": {
    long: "--allow-origin",
    value: "ORIGIN",
    multiple: true,
    with: "--listen",
    help: ["with --listen: let browser pages from ORIGIN join (https://lab.example.org;", "repeat for more; * for any); by default only pages of this machine may"],
  },
  "--workers": { long: "--workers", value: "N", help: ["run: place the nodes on N kernels, each in a worker thread, joined by", "cross-partition links (docs/scale.md); the report says each node's", "partition, each partition's CPU time and the synchronization's cost"] },
  "--hosts": { long: "--hosts", value: "FILE", complete: "file", help: ["run: one process per entry of FILE (hosts.yaml: local children or ssh", "user@host), cut links as VXLAN links, real time (docs/scale.md)"] },
  "--emit-k8s": { long: "--emit-k8s", value: "DIR", complete: "file", with: "--hosts", help: ["with --hosts: write a Kubernetes manifest per partition into DIR", "(ConfigMap, headless Service, Deployment) instead of running"] },
  "--keep": { long: "--keep", help: ["run: keep the lab up after its steps, for inspect, attach, exec", "and destroy from other terminals (a control socket), until", "wavnet destroy LAB, ^C or SIGTERM"] },
  "--json": { long: "--json", group: "output", help: ["run: print one JSON document (steps, figures, teardown) instead of text;", "run and check: a bad file's problems as JSON on stdout;", "inspect: the labs or the lab as JSON"] },
  "--quiet": { long: "--quiet", short: "-q", group: "output", help: ["run: print only the steps that fail and, if the run fails, how it", "ended (exit status and why); nothing for a green run"] },
  "--verbose": { long: "--verbose", short: "-v", group: "output", help: ["run: every step as it finishes with its whole detail, figures and", "where the file defines it, then the table"] },
  "--history": { long: "--history", value: "FILE", complete: "file", help: ["shell: keep command history in FILE"] },
  "--ports": { long: "--ports", value: "N", help: ["relay: how many ports (1 to 64, default 8)"] },
  "--format": { long: "--format", short: "-f", value: "FORMAT", complete: ["svg", "mermaid", "dot", "html"], help: ["graph: svg (the default), mermaid, dot or html; else the one", "OUT's extension names"] },
  "--output": { long: "--output", short: "-o", value: "OUT", complete: "file", help: ["graph: write the picture to OUT instead of stdout"] },
};

const UP = ["--virtual-time", "--real-time", "--seed", "--pcap", "--listen", "--allow-origin"];

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "run",
    args: ["FILE"],
    complete: "topology",
    options: [...UP, "--workers", "--hosts", "--emit-k8s", "--keep", "--json", "--quiet", "--verbose"],
    help: ["bring the topology in FILE up, run its steps, print the results and the", "teardown accounting; exit 0 only if every step passed and nothing leaked"],
  },
  {
    name: "shell",
    args: ["FILE"],
    complete: "topology",
    options: [...UP, "--history"],
    help: ["a console on the topology: NODE COMMAND (ifconfig, route, netstat, ping, ...),", "help, nodes, links, sleep, quit; reads a script from stdin when it is not a terminal"],
  },
  {
    name: "check",
    args: ["FILE"],
    complete: "topology",
    options: ["--json"],
    help: ["check FILE (YAML, schema, meaning) and bring nothing up; exit 0 if it is", "good, 2 with every problem (file:line:col, the line, a caret)"],
  },
  { name: "graph", args: ["FILE"], complete: "topology", options: ["--format", "--output"], help: ["a picture of the lab in FILE (svg by default, or the format OUT's extension", "names; mermaid and dot are text); nothing is brought up"] },
  { name: "inspect", args: ["[LAB]"], options: ["--json"], help: ["the labs kept up by run --keep, or one lab's nodes"] },
  { name: "attach", args: ["LAB"], options: [], help: ["a shell on a kept lab from another terminal"] },
  { name: "exec", args: ["LAB", "NODE", "CMD..."], options: [], help: ["one command on a node of a kept lab"] },
  { name: "destroy", args: ["LAB"], options: [], help: ["bring a kept lab down"] },
  {
    name: "relay",
    args: [],
    options: ["--listen", "--ports", "--allow-origin"],
    required: ["--listen"],
    help: ["one Ethernet segment for others to join: a bridge whose N ports (default 8)", "are served at ws://HOST:PORT/relay/p1 ... /relay/pN; up until ^C or SIGTERM"],
  },
  { name: "completion", args: ["bash|zsh"], complete: ["bash", "zsh"], options: [], help: ["print a completion script: source <(wavnet completion bash), or", "wavnet completion zsh > ~/.zfunc/_wavnet (a folder on $fpath)"] },
  { name: "help", args: ["[COMMAND]"], complete: "commands", options: [], help: ["this text, or one command's usage and options"], aliases: ["--help", "-h"] },
  { name: "version", args: [], options: [], help: ["the package's version and Node's"], aliases: ["--version", "-V"] },
];

/** The command named name (or one of its aliases). */
export function command(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

/** "--pcap DIR" or "-q, --quiet" as usage and help write an option. */
function optionWords(o: OptionSpec, withShort: boolean): string {
  const names = withShort && o.short ? `${o.short}, ${o.long}` : (o.short ?? o.long);
  const value = Array.isArray(o.complete) ? o.complete.join("|") : o.value;
  return value ? `${names} ${value}` : names;
}

/** One command's usage line: `wavnet run FILE [--virtual-time | --real-time] ...`. */
export function usageLine(c: CommandSpec): string {
  const parts = [`wavnet ${c.name}`, ...c.args];
  const done = new Set<string>();
  for (const name of c.options) {
    if (done.has(name)) continue;
    const o = OPTIONS[name]!;
    if (o.with && c.options.includes(o.with)) continue; // shown inside its option's brackets
    const group = o.group ? c.options.filter((n) => OPTIONS[n]!.group === o.group) : [name];
    group.forEach((n) => done.add(n));
    const inner = group.map((n) => {
      const dependants = c.options.filter((d) => OPTIONS[d]!.with === n).map((d) => ` [${optionWords(OPTIONS[d]!, false)}]`).join("");
      return `${optionWords(OPTIONS[n]!, false)}${dependants}`;
    });
    parts.push(group.length === 1 && c.required?.includes(name) ? inner[0]! : `[${inner.join(" | ")}]`);
  }
  return parts.join(" ");
}

const EXIT_TEXT = `exit status: 0 ok; 1 a step or command failed, or the teardown found a leak;
             2 bad command line or topology file (file:line:col: field: problem)`;

/** Help lines of options: the names, then the text indented at column 19. */
function optionLines(names: readonly string[]): string[] {
  const out: string[] = [];
  for (const n of names) {
    const o = OPTIONS[n]!;
    const head = `  ${optionWords(o, true)}`;
    if (head.length <= 17) out.push(`${head.padEnd(19)}${o.help[0]}`, ...o.help.slice(1).map((l) => `${" ".repeat(19)}${l}`));
    else out.push(head, ...o.help.map((l) => `${" ".repeat(19)}${l}`));
  }
  return out;
}

/** `wavnet --help`: every usage line, what each command does, every option once, exit status. */
export function usageText(): string {
  const usage = COMMANDS.map((c, i) => `${i === 0 ? "usage: " : "       "}${c.name === "help" ? "wavnet help [COMMAND] | wavnet --help" : usageLine(c)}`);
  const cmds = COMMANDS.flatMap((c) => [`  ${c.name.padEnd(11)}${c.help[0]}`, ...c.help.slice(1).map((l) => `${" ".repeat(13)}${l}`)]);
  return [...usage, "", ...cmds, "", ...optionLines(Object.keys(OPTIONS)), "", EXIT_TEXT].join("\n");
}

/** `wavnet help COMMAND`: its usage line, what it does, its options. */
export function commandHelp(c: CommandSpec): string {
  return [
    `usage: ${usageLine(c)}`,
    "",
    ...c.help.map((l) => `  ${l}`),
    ...(c.options.length ? ["", "options:", ...optionLines(c.options)] : []),
    ...(c.aliases?.length ? ["", `also: wavnet ${c.aliases.join(", wavnet ")}`] : []),
    "",
    EXIT_TEXT,
  ].join("\n");
}

/** node:util parseArgs options for these long names (the union of the commands that share a parser). */
export function parseArgsOptions(names: readonly string[]): Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> {
  const out: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const n of names) {
    const o = OPTIONS[n]!;
    out[n.slice(2)] = { type: o.value ? "string" : "boolean", ...(o.short ? { short: o.short.slice(1) } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  return out;
}
