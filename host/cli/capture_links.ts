// `wavnet run FILE --pcap DIR` on a file with no capture steps: every link is captured into
// one pcapng file, DIR/LAB.pcapng, with an interface block (IDB) per link end named
// NODE:IFACE as the file names them (if_name; the kernel's own name, epair0a, is not one a
// reader of the file knows), in link order, a end then b end. Each end is tapped, so a frame
// appears twice, once as sent by one end and once as received by the other (pcapng's
// direction flag says which): a reader filters on one interface to see one end's view,
// as tcpdump -i would show it, and the lab's whole traffic is one file to open.

import type { Topology } from "../topology/index.js";
import type { LiveCapture } from "../capture/tap.js";
import { PcapngSink } from "../capture/capture.js";
import { platform } from "../lib/platform.js";

export interface LinkCapture {
  /** "h1:eth0 -- r1:eth0" */
  link: string;
  /** The lab's one capture file (the same for every link). */
  file: string;
  /** The two ends' captures: [a, b]; their frames are under interface ids 2i and 2i+1. */
  ends: [LiveCapture, LiveCapture];
}

export interface LabCapture {
  file: string;
  sink: PcapngSink;
  links: LinkCapture[];
}

/** Start capturing both ends of every link into DIR/LAB.pcapng; stop with stopLabCapture. */
export function captureLinks(topo: Topology, dir: string, lab: string): LabCapture | undefined {
  const p = platform();
  if (!p.joinPath) return undefined;
  const path = p.joinPath(dir, `${lab.replace(/[^A-Za-z0-9._-]/g, "_")}.pcapng`);
  const file = p.resolvePath ? p.resolvePath(path) : path;
  const sink = new PcapngSink(file, { userAppl: "wavnet run --pcap" });
  const links: LinkCapture[] = [];
  const started: LiveCapture[] = [];
  try {
    for (const l of topo.links()) {
      // Interface ids follow attach order: the a end's first, so link i has ids 2i and 2i+1.
      const a = l.ends[0].capture({ pcapng: sink, ifName: l.a });
      started.push(a);
      const b = l.ends[1].capture({ pcapng: sink, ifName: l.b });
      started.push(b);
      links.push({ link: `${l.a} -- ${l.b}`, file, ends: [a, b] });
    }
  } catch (e) {
    // A tap that cannot start (no ring memory): give back the ones that did, close the file.
    void Promise.all(started.map((x) => x.stop())).then(() => sink.close()).catch(() => {});
    throw e;
  }
  return { file, sink, links };
}

/** Frames captured on a link: both ends' (each frame counted once per end that saw it). */
export function linkFrames(c: LinkCapture): number {
  return c.ends[0].frames + c.ends[1].frames;
}

/** Stop every tap, then finish the file; it is complete when this resolves. */
export async function stopLabCapture(c: LabCapture): Promise<void> {
  await Promise.all(c.links.flatMap((l) => l.ends.map((x) => x.stop())));
  await c.sink.close();
}
