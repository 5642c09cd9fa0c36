// `NODE curl [-s] [-o FILE] [-I] [-m SECS] URL`: one HTTP/1.1 GET (or HEAD with -I) from
// the node, through the host's HTTP client over the node's sockets (host/sockets/http1.ts,
// what topology http steps use). The URL's host may be a node's name. Like curl, the body
// is printed (or written to FILE); -I prints the status line and header fields; a status
// of 400 or more is not a failure (curl's default, without -f), a refused connection or
// a timeout is. The wait is on the lab's clock, so a virtual clock moves while it waits.

import type { Kernel, Vnet } from "../kern/kernel.js";
import { httpGet, type HttpClientResponse } from "../sockets/http1.js";
import { TimeDriver } from "../topology/clock.js";
import { platform, unsupported } from "../lib/platform.js";
import { CommandError, getopt, number } from "./args.js";
import { resolveHost } from "./resolve.js";

export const CURL_USAGE = "curl [-s] [-I] [-i] [-o FILE] [-m SECS] http://HOST[:PORT][/PATH]";

interface CurlIo {
  kernel: Kernel;
  vnet: Vnet;
  node: string;
  argv: string[];
  signal?: AbortSignal;
}

function headText(r: HttpClientResponse): string {
  return [`${r.version} ${r.status}${r.reason ? ` ${r.reason}` : ""}`, ...r.headers.map(([n, v]) => `${n}: ${v}`)].join("\n");
}

export async function curl(c: CurlIo): Promise<string> {
  const { opts, args } = getopt("curl", c.argv, "sSIio:m:", CURL_USAGE);
  if (args.length !== 1) throw new CommandError(`curl: ${args.length ? "one URL only" : "a URL is needed"}; usage: ${CURL_USAGE}`);
  const o = (k: string) => opts.get(k) as string | undefined;
  const timeoutUs = o("m") !== undefined ? number("curl", "-m (seconds)", o("m")!, 0.001, 86400, false) * 1e6 : 30e6;
  // curl's own habit: a URL without a scheme is http.
  const raw = /^[a-z][a-z0-9+.-]*:\/\//i.test(args[0]) ? args[0] : `http://${args[0]}`;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CommandError(`curl: (3) URL rejected: ${JSON.stringify(args[0])} is not a URL`);
  }
  if (u.protocol !== "http:") throw new CommandError(`curl: (1) protocol "${u.protocol.replace(/:$/, "")}" not supported (http only)`);
  const name = u.hostname.replace(/^\[(.*)\]$/, "$1");
  const host = resolveHost({ kernel: c.kernel, vnet: c.vnet, cmd: "curl" }, name).address;
  const port = u.port ? Number(u.port) : 80;
  const path = `${u.pathname || "/"}${u.search}`;
  const head = opts.has("I");

  let res: HttpClientResponse | undefined;
  let failure: string | undefined;
  const abort = new AbortController();
  const onAbort = () => abort.abort(c.signal?.reason);
  c.signal?.addEventListener("abort", onAbort, { once: true });
  // The Host field names what the user typed (a node name stays a name), as curl sends it.
  httpGet(c.kernel, c.vnet, { host, port, path }, { method: head ? "HEAD" : "GET", signal: abort.signal, headers: { "User-Agent": "wavnet-curl", Accept: "*/*" } }).then(
    (r) => (res = r),
    (e) => (failure = e instanceof Error ? e.message : String(e)),
  );
  try {
    await new TimeDriver(c.kernel).until(() => res !== undefined || failure !== undefined || c.signal?.aborted === true, timeoutUs);
  } finally {
    c.signal?.removeEventListener("abort", onAbort);
    abort.abort();
  }
  const where = `${host}${port === 80 ? "" : `:${port}`}`;
  if (!res) {
    if (c.signal?.aborted) throw new CommandError("curl: interrupted");
    if (failure === undefined) throw new CommandError(`curl: (28) operation timed out after ${timeoutUs / 1e6} s with no complete response from ${where}`);
    const code = /ECONNREFUSED/.test(failure) ? 7 : /EHOSTUNREACH|ENETUNREACH|ETIMEDOUT/.test(failure) ? 7 : 56;
    throw new CommandError(`curl: (${code}) ${failure}`);
  }
  if (head) return headText(res);
  const lines: string[] = [];
  if (opts.has("i")) lines.push(headText(res), "");
  const file = o("o");
  if (file !== undefined && file !== "-") {
    const p = platform();
    if (!p.openFile) throw new CommandError(`curl: ${unsupported("writing a file").message}`);
    const out = p.resolvePath ? p.resolvePath(file) : file;
    const no = p.checkWritable?.(out);
    if (no) throw new CommandError(`curl: (23) cannot write ${out}: ${no.reason}`);
    const sink = p.openFile(out);
    await new Promise<void>((resolve, reject) => {
      sink.on?.("error", reject);
      sink.write(res!.body);
      sink.end(() => resolve());
    }).catch((e: Error) => {
      throw new CommandError(`curl: (23) writing ${out}: ${e.message}`);
    });
    // Without -s curl shows its progress meter on stderr; here one line says what was saved.
    if (!opts.has("s")) lines.push(`${res.body.length} bytes from http://${where}${path === "/" ? "/" : path} (${res.status}) written to ${out}`);
    return lines.join("\n");
  }
  lines.push(res.text().replace(/\n$/, ""));
  return lines.join("\n");
}
