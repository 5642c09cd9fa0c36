// Whole capture files written in one go: Node only (node:fs). The encoders they use are the
// platform-neutral writers in host/capture/pcap.ts; in a browser, build the bytes with
// `toBuffer()` and hand them to a Blob or a WritableStream instead.
import { writeFile } from "node:fs/promises";
import { PcapWriter, PcapngWriter, type PcapWriterOptions, type PcapngInterface, type PcapPacket } from "../capture/pcap.js";

/** Write a classic pcap file in one go. */
export async function writePcapFile(path: string, packets: Iterable<PcapPacket>, opts: Omit<PcapWriterOptions, "out"> = {}): Promise<void> {
  const w = new PcapWriter(opts);
  for (const p of packets) w.write(p);
  await writeFile(path, w.toBuffer());
}

/** Write a pcapng file in one go: interfaces in order (ids 0, 1, ...), packets name theirs by `ifId`. */
export async function writePcapngFile(path: string, interfaces: PcapngInterface[], packets: Iterable<PcapPacket & { ifId: number }>): Promise<void> {
  const w = new PcapngWriter();
  for (const i of interfaces) w.addInterface(i);
  for (const p of packets) w.write(p.ifId, p);
  await writeFile(path, w.toBuffer());
}
