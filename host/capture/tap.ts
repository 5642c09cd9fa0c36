// Captures wired to the kernel: a LiveCapture owns a kernel capture descriptor (net/bpf.ts)
// on one interface; the kernel drains every live capture's ring after each kernel entry and
// clock tick, so frames reach iterators, Web Streams (readable()) and pcap/pcapng sinks as
// they happen.

import { Capture, type CaptureOptions, type PcapngSink } from "./capture.js";
import type { ByteSink } from "../lib/platform.js";
import { LINKTYPE_ETHERNET, LINKTYPE_NULL } from "./pcap.js";
import { ConfigError, KernelError, Errno } from "../lib/errors.js";
import { show } from "../lib/format.js";
import { integerArg } from "../lib/check.js";
import { PORT_RANK, type HostPort, type Kernel } from "../kern/kernel.js";
import type { Interface } from "../admin/ifnet.js";

export interface BpfExports {
  bpfh_attach(ifp: number, snaplen: number, nseg: number): number;
  bpf_readable(d: number): number;
  bpf_read_ptr(): number;
  bpf_consume(d: number, n: number): void;
  bpf_close(d: number): void;
  bpf_stat(d: number, what: number): number;
  callout_now(): number;
}

export interface CaptureStartOptions {
  /** Bytes of each frame kept (default 65535). */
  snaplen?: number;
  /** Ring size in 64 KiB segments (default 16 = 1 MiB; frames beyond it are dropped and counted). */
  ringSegments?: number;
  /** Write a pcap file as frames arrive: a path (Node only) or a ByteSink (a Node Writable, toByteSink(WritableStream)). */
  pcap?: string | ByteSink;
  /** Write pcapng: a path (Node only), a ByteSink, or a PcapngSink shared with other captures. */
  pcapng?: string | ByteSink | PcapngSink;
  /** The interface's name in frames and files (pcapng if_name): default VNET:IF ("h1:epair0a"), IF in vnet0. */
  ifName?: string;
}

export class LiveCapture extends Capture implements HostPort {
  #d: number;
  constructor(private readonly kernel: Kernel, readonly iface: Interface, d: number, opts: CaptureOptions) {
    super(opts);
    this.#d = d;
  }

  /** @internal copy what the kernel ring holds into the capture. */
  drain(): void {
    if (this.#d === 0) return;
    const x = this.kernel.k as unknown as BpfExports;
    for (let n = x.bpf_readable(this.#d); n > 0; n = x.bpf_readable(this.#d)) {
      const p = x.bpf_read_ptr();
      this.ingest(new Uint8Array(this.kernel.memory.buffer, p, n), { base: p });
      x.bpf_consume(this.#d, n);
    }
    this.drops = x.bpf_stat(this.#d, 2);
  }

  /** @internal HostPort: the kernel shuts down. */
  close(): void {
    void this.stop();
  }

  /** Stop capturing: drain the ring, free it in the kernel, end iterators, close own sinks. */
  override stop(): Promise<void> {
    if (this.#d !== 0) {
      const x = this.kernel.k as unknown as BpfExports;
      this.drain();
      x.bpf_close(this.#d);
      this.#d = 0;
      this.kernel.detachPort(this);
      return super.stop({ kernelNowUs: x.callout_now() });
    }
    return super.stop();
  }
}

/** Start capturing on iface. Options are checked first; if a sink cannot be opened the ring is given back. */
export function startCapture(kernel: Kernel, iface: Interface, opts: CaptureStartOptions = {}): LiveCapture {
  const name = iface.name;
  if (opts === null || typeof opts !== "object") throw new ConfigError(`capture ${name}: options must be an object, got ${show(opts)}`);
  const snaplen = integerArg(`capture ${name}: snaplen`, opts.snaplen ?? 65535, 14, 65535);
  const nseg = integerArg(`capture ${name}: ringSegments`, opts.ringSegments ?? 16, 1, 64);
  if (opts.ifName !== undefined && (typeof opts.ifName !== "string" || opts.ifName === "")) throw new ConfigError(`capture ${name}: ifName must be a non-empty string, got ${show(opts.ifName)}`);
  const x = kernel.k as unknown as BpfExports;
  const loop = iface.type === "loopback";
  const vnet = iface.vnet;
  const d = kernel.enter(() => x.bpfh_attach(iface.ptr, snaplen, nseg));
  if (d === 0) throw new KernelError(`capture ${name}: no memory for a ${nseg}-segment ring`, -Errno.ENOMEM);
  const cap = new LiveCapture(kernel, iface, d, {
    ifName: opts.ifName ?? (vnet === kernel.vnet0 ? name : `${vnet.name}:${name}`),
    description: `vnet ${vnet.name}, ${name}`,
    linktype: loop ? LINKTYPE_NULL : LINKTYPE_ETHERNET,
    snaplen,
    epochUs: kernel.epochUs(),
  });
  try {
    if (opts.pcap !== undefined) cap.toPcap(opts.pcap);
    if (opts.pcapng !== undefined) cap.toPcapng(opts.pcapng);
  } catch (e) {
    // A sink that cannot be opened (a bad path, not a sink): no ring stays attached.
    void cap.stop().catch(() => {});
    throw e;
  }
  kernel.attachPort(cap, PORT_RANK.capture);
  return cap;
}
