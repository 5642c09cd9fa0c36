// tshark as a second opinion on capture files: what it decodes, and what it complains about.
// Tests that need it pass `{ skip: tsharkSkip }` so that a machine without tshark reports
// the test as skipped and why, never as passed.

import { execFileSync, spawnSync } from "node:child_process";

function which(cmd: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export const TSHARK = which("tshark");
const CAPINFOS = which("capinfos"); // capinfos comes in the same Debian dependency (wireshark-common)

/** `false` when tshark is here, else the reason to skip: use as node:test's `skip` option. */
export const tsharkSkip: string | false = TSHARK ? false : "tshark not installed (apt-get install tshark)";

/** Checksums are not verified by default; a capture must show them right (DESIGN: checksums). */
const PREFS = ["ip.check_checksum:TRUE", "udp.check_checksum:TRUE", "tcp.check_checksum:TRUE"];

// Expert severities (epan/proto.h): PI_WARN 0x00600000, PI_ERROR 0x00800000.
const PI_WARN = 0x00600000;
const PI_ERROR = 0x00800000;

export interface TsharkResult {
  /** The file format as Wireshark detects it ("pcap", "pcapng"), when capinfos is installed. */
  fileType?: string;
  /** One row per frame, one cell per field (several occurrences joined with ","). */
  rows: string[][];
  /** Expert errors and malformed packets, as "frame N: message"; also read errors of the file. */
  errors: string[];
  /** Expert warnings, as "frame N: message" (e.g. a frame with no dissector for its payload is not one). */
  warnings: string[];
}

function run(args: string[]): string {
  if (!TSHARK) throw new Error("tshark not installed");
  const r = spawnSync(TSHARK, ["-n", ...PREFS.flatMap((p) => ["-o", p]), ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
  const stderr = r.stderr
    .split("\n")
    .filter((l) => l.trim() && !/^Running as user "root"/.test(l))
    .join("\n");
  if (r.status !== 0 || stderr) throw new TsharkReadError(args, r.status, stderr);
  return r.stdout;
}

/** Wireshark's name for the format of `file` (capinfos -t), or undefined without capinfos. */
function fileType(file: string): string | undefined {
  if (!CAPINFOS) return undefined;
  const r = spawnSync(CAPINFOS, ["-t", "-M", "-T", "-r", file], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim().split("\t")[1] : undefined;
}

/** tshark could not read the file (or said something on stderr): the file is bad. */
export class TsharkReadError extends Error {
  constructor(readonly args: string[], readonly status: number | null, readonly stderr: string) {
    super(`tshark ${args.join(" ")} exited ${status}: ${stderr}`);
  }
}

function lines(s: string): string[] {
  return s.split("\n").filter((l) => l !== "");
}

/**
 * Read `file` with tshark (checksum checks on): the `fields` of every frame (default
 * interface name and ethertype) and every expert error/warning and malformed packet.
 * A file tshark cannot read gives `errors` with tshark's message instead of rows; so does
 * a file Wireshark takes for something other than pcap or pcapng (it guesses formats).
 * `extra` goes on both tshark command lines (e.g. "-d", "tcp.port==5001,data" so that random
 * payload is not taken for some protocol by a heuristic dissector).
 */
export function tsharkCheck(file: string, fields: string[] = ["frame.interface_name", "eth.type"], extra: string[] = []): TsharkResult {
  const result: TsharkResult = { rows: [], errors: [], warnings: [] };
  const type = fileType(file);
  if (type !== undefined) {
    result.fileType = type;
    if (type !== "pcap" && type !== "pcapng") result.errors.push(`file type is ${type}, not pcap or pcapng`);
  }
  try {
    result.rows = lines(run(["-r", file, ...extra, "-T", "fields", "-E", "separator=/t", ...fields.flatMap((f) => ["-e", f])])).map((l) => l.split("\t"));
    const expert = run([
      "-r", file, ...extra, "-Y", `_ws.malformed || _ws.expert.severity >= ${PI_WARN}`,
      "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|",
      "-e", "frame.number", "-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "_ws.expert.message",
    ]);
    for (const l of lines(expert)) {
      const [num, malformed, sev = "", msg = ""] = l.split("\t");
      const sevs = sev.split("|");
      let errs = 0;
      msg.split("|").forEach((m, i) => {
        const s = Number(sevs[i]);
        if (s >= PI_ERROR) errs += result.errors.push(`frame ${num}: ${m}`);
        else if (s >= PI_WARN) result.warnings.push(`frame ${num}: ${m}`);
      });
      if (malformed && !errs) result.errors.push(`frame ${num}: malformed packet`);
    }
  } catch (e) {
    if (!(e instanceof TsharkReadError)) throw e;
    result.errors.push(e.stderr || e.message);
  }
  return result;
}
