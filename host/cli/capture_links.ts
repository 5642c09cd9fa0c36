// `wavnet run FILE --pcap DIR` on a file with no capture steps: every link is captured, a
// pcapng file per link in DIR named after its ends (h1-eth0--r1-eth0.pcapng). The a end is
// tapped: an epair end sees every frame of the link, both directions (what it sends and
// what it receives), so one tap per link loses nothing and doubles nothing.

import type { Topology } from "../topology/index.js";
import type { LiveCapture } from "../capture/tap.js";
import { platform } from "../lib/platform.js";

export interface LinkCapture {
  /** "h1:eth0 -- r1:eth0" */
  link: string;
  file: string;
  capture: LiveCapture;
}

/** Start a capture of every link into dir; stop them with stopLinkCaptures. */
export function captureLinks(topo: Topology, dir: string): LinkCapture[] {
  const p = platform();
  if (!p.joinPath) return [];
  return topo.links().map((l) => {
    const name = `${l.a.replace(":", "-")}--${l.b.replace(":", "-")}.pcapng`;
    const file = p.resolvePath ? p.resolvePath(p.joinPath!(dir, name)) : p.joinPath!(dir, name);
    return { link: `${l.a} -- ${l.b}`, file, capture: l.ends[0].capture({ pcapng: file }) };
  });
}

/** Stop them; their files are complete when this resolves. */
export async function stopLinkCaptures(caps: LinkCapture[]): Promise<void> {
  await Promise.all(caps.map((c) => c.capture.stop()));
}

