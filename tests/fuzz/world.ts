// The fuzz harness's world: one kernel that lives for a whole run, with bystander vnets whose
// memory must not change, and a fresh target per case that the generated input is fed to.
//
// Bystanders X and Y are an established TCP connection with unread data, a listener, a
// bound UDP6 socket with a queued datagram, and the same addresses as the target (10.0.0.2,
// fd00::2), so any confusion between stacks shows. Their neighbour entries are deleted so
// they have no callout pending: nothing may run in them during a case, and a hash of their
// memory must be the same after it. Hashed per bystander: its struct vnet (less the live
// list links, which a neighbour's creation rewrites), its data block (the VNET section: every
// counter, knob and per-vnet zone charge), and every zone it owns with every slab of items
// (tcpcbs, PCBs, sockets, tables). Items of shared zones (mbufs) are not walked; what a vnet
// holds of them is its charge record, in the data block.
//
// A target T is a vnet with epair end eT (10.0.0.2/24, fd00::2/64, up), TCP listeners on
// port 80 and UDP sockets on 53 for both families; the epair's other end sits down in a
// vnet W, so what T sends goes nowhere and the harness (the peer at 10.0.0.1 / fd00::1,
// MAC 02:00:00:00:00:01) reads it from a capture of eT. A router target also forwards
// (both families) to a second link eR (10.0.1.2/24, fd00:1::2/64, MTU 1280: fragmentation
// and packet-too-big on the way out), its peer end down in W too. After the case T and W are
// destroyed and every invariant is checked (World.check).

import { createHash } from "node:crypto";
import { Kernel, KernelPanic, LeakError, WavnetError, socket, type Interface, type Socket, type Vnet, type VirtualClock } from "../../host/index.js";
import { addAddress, arpDelete, setForwarding } from "../../host/admin/inet.js";
import { addAddress6, ndpDelete, setForwarding6 } from "../../host/admin/inet6.js";
import { bridgeAdd } from "../../host/admin/bridge.js";
import type { LiveCapture } from "../../host/capture/tap.js";
import * as W from "./wire.js";

export const CONFIG = ["if_epair", "if_bridge", "if_vxlan", "inet", "inet6", "udp", "tcp"];
export const PEER_MAC = "02:00:00:00:00:01";
export const PEER4 = "10.0.0.1";
export const T4 = "10.0.0.2";
export const PEER6 = "fd00::1";
export const T6 = "fd00::2";

/** An invariant broke: the message says which and how. */
export class FuzzFailure extends Error {
  constructor(readonly kind: string, message: string) {
    super(`${kind}: ${message}`);
    this.name = "FuzzFailure";
  }
}

// Zone statistics (host/kern/kernel.ts ZS) and layouts (assembly/kern/zone.ts, vnet.ts).
const ZS_INUSE = 2, ZS_ALLOCS = 4, ZS_FREES = 5, ZS_LIMIT = 1, ZS_FLAGS = 10, ZS_BADFREES = 13;
const ZONE_CHARGE = 2;
const VNET_STRUCT = 56; // sizeof struct vnet
const VNET_NEXT = 20, VNET_PREV = 24, VNET_CALLOUTS = 32;
const Z_SIZE = 0, Z_IPERS = 4, Z_PARTIAL = 80, Z_FULL = 84, Z_EMPTY = 88, ZONE_STRUCT = 128;
const SLAB_BASE = 8, SLAB_NEXT = 16;

/** A frame the target sent, as the capture of eT saw it. */
export type OutFrame = Uint8Array;

/** Frames of a classic pcap byte stream, as they are written (the capture's synchronous sink). */
class PcapStream {
  private buf: Uint8Array = new Uint8Array(0);
  private header = false;
  constructor(private readonly onFrame: (f: Uint8Array) => void) {}
  write(chunk: Uint8Array): boolean {
    this.buf = this.buf.length ? W.cat(this.buf, chunk) : chunk.slice();
    let o = 0;
    if (!this.header) {
      if (this.buf.length < 24) return true;
      this.header = true;
      o = 24;
    }
    while (this.buf.length - o >= 16) {
      const dv = new DataView(this.buf.buffer, this.buf.byteOffset + o);
      const incl = dv.getUint32(8, true);
      if (this.buf.length - o - 16 < incl) break;
      this.onFrame(this.buf.slice(o + 16, o + 16 + incl));
      o += 16 + incl;
    }
    this.buf = this.buf.slice(o);
    return true;
  }
  end(cb?: () => void): void {
    cb?.();
  }
}

export class Target {
  /** What T sent since the last take(). */
  out: OutFrame[] = [];
  sockets: Socket[] = [];
  bridge?: Interface;
  /** Bridge members (eT first), then the router's second link when there is one. */
  members: Interface[] = [];
  router = false;
  constructor(
    readonly world: World,
    readonly T: Vnet,
    readonly Wv: Vnet,
    readonly eT: Interface,
    readonly eW: Interface,
    readonly cap: LiveCapture,
    readonly tcp4: Socket,
    readonly tcp6: Socket,
    readonly udp4: Socket,
    readonly udp6: Socket,
  ) {}

  get k(): Kernel {
    return this.world.k;
  }
  get tmac(): Uint8Array {
    return W.mac(this.eT.mac);
  }

  /** Hand a frame to eT as if from its wire. A trap is a failure; a host exception too. */
  inject(frame: Uint8Array, iface: Interface = this.eT): void {
    if (frame.length < 1 || frame.length > 65536) return;
    this.world.guard(() => iface.receive(frame));
  }

  take(): OutFrame[] {
    const o = this.out;
    this.out = [];
    return o;
  }
}

export class World {
  readonly bystanders: Vnet[];
  private readonly heapTop: number;
  private bySum = new Map<Vnet, string>();
  private keep: Socket[] = [];
  cases = 0;

  private constructor(readonly k: Kernel, bystanders: Vnet[], keep: Socket[]) {
    this.bystanders = bystanders;
    this.keep = keep;
    this.heapTop = k.heapTop();
  }

  get clock(): VirtualClock {
    return this.k.clock as VirtualClock;
  }

  static async create(seed = 1): Promise<World> {
    const k = await Kernel.boot({ config: CONFIG, seed });
    const clock = k.clock as VirtualClock;
    const X = k.createVnet("X");
    const Y = k.createVnet("Y");
    const [ex, ey] = k.epair(X, Y);
    ex.setUp();
    ey.setUp();
    addAddress(k, ex, `${T4}/24`);
    addAddress(k, ey, `${PEER4}/24`);
    addAddress6(k, ex, `${T6}/64`);
    addAddress6(k, ey, `${PEER6}/64`);
    const lsn = socket(k, X, "inet", "stream").bind("0.0.0.0", 80).listen(8);
    const cli = socket(k, Y, "inet", "stream");
    cli.connect(T4, 80);
    clock.runUntilIdle(10_000_000);
    const srv = lsn.accept();
    if (!srv) throw new Error("fuzz world: the bystanders' connection did not open");
    cli.send(new Uint8Array(1000).fill(0x5a));
    const u6 = socket(k, X, "inet6", "dgram").bind("::", 53);
    const u6c = socket(k, Y, "inet6", "dgram");
    u6c.sendto(new Uint8Array(100).fill(7), T6, 53);
    clock.runUntilIdle(100_000_000);
    // No callout may be pending in a bystander: drop the neighbour entries the traffic made.
    arpDelete(k, ex, PEER4);
    arpDelete(k, ey, T4);
    ndpDelete(k, X, PEER6, ex);
    ndpDelete(k, Y, T6, ey);
    clock.runUntilIdle(100_000_000);
    k.reclaim();
    const w = new World(k, [X, Y], [lsn, cli, srv, u6, u6c]);
    for (const v of w.bystanders) {
      const n = w.dv().getUint32(v.ptr + VNET_CALLOUTS, true);
      if (n !== 0) throw new Error(`fuzz world: bystander ${v.name} has ${n} callouts pending; its memory could change by itself`);
    }
    w.check("boot");
    w.snapshot();
    return w;
  }

  dv(): DataView {
    return this.k.dv();
  }

  /** Run a host call: a trap, or an exception that is not one of the host's typed errors, is a failure. */
  guard<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      if (e instanceof KernelPanic) throw new FuzzFailure("trap", e.message);
      if (e instanceof FuzzFailure) throw e;
      if (e instanceof WavnetError) return undefined; // a typed refusal (socket closed, reset, ...)
      throw new FuzzFailure("host exception", e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e));
    }
  }

  // ---------------------------------------------------------------------------------------
  // Bystanders

  private hashVnet(v: Vnet): string {
    const mem = new Uint8Array(this.k.memory.buffer);
    const dv = this.dv();
    const h = createHash("sha1");
    const s = mem.slice(v.ptr, v.ptr + VNET_STRUCT);
    s.fill(0, VNET_NEXT, VNET_PREV + 4);
    h.update(s);
    const base = this.k.k.vnet_base(v.ptr) >>> 0;
    h.update(mem.subarray(base, base + this.k.k.vnet_section_size()));
    for (let z = this.k.k.zone_first_vnet(v.ptr) >>> 0; z !== 0; z = this.k.k.zone_next(z) >>> 0) {
      h.update(mem.subarray(z, z + ZONE_STRUCT));
      const span = dv.getUint32(z + Z_SIZE, true) * dv.getUint32(z + Z_IPERS, true);
      for (const list of [Z_PARTIAL, Z_FULL, Z_EMPTY]) {
        let n = 0;
        for (let s = dv.getUint32(z + list, true); s !== 0 && n < 100_000; s = dv.getUint32(s + SLAB_NEXT, true), n++) {
          const b = dv.getUint32(s + SLAB_BASE, true);
          h.update(mem.subarray(s, s + 24));
          h.update(mem.subarray(b, b + span));
        }
      }
    }
    return h.digest("hex");
  }

  snapshot(): void {
    for (const v of this.bystanders) this.bySum.set(v, this.hashVnet(v));
  }

  checkBystanders(): void {
    for (const v of this.bystanders) {
      if (!v.alive) throw new FuzzFailure("isolation", `bystander ${v.name} is gone`);
      if (this.hashVnet(v) !== this.bySum.get(v)) throw new FuzzFailure("isolation", `bystander ${v.name}'s memory (struct vnet, data block or its zones) changed`);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Kernel-wide invariants

  private zones(): number[] {
    const out: number[] = [];
    for (let z = this.k.k.zone_first() >>> 0; z !== 0; z = this.k.k.zone_next(z) >>> 0) out.push(z);
    for (const v of this.k.vnets()) for (let z = this.k.k.zone_first_vnet(v.ptr) >>> 0; z !== 0; z = this.k.k.zone_next(z) >>> 0) out.push(z);
    return out;
  }

  /**
   * Items in use of every kernel zone, by zone address (what a case must give back). After
   * uma_reclaim, so that a zone's one cached empty slab (whose off-page header is an item
   * of the "slabs" zone) is not taken for a leak.
   */
  zoneUse(): Map<number, number> {
    this.k.reclaim();
    const m = new Map<number, number>();
    for (let z = this.k.k.zone_first() >>> 0; z !== 0; z = this.k.k.zone_next(z) >>> 0) m.set(z, this.k.k.zone_stat(z, ZS_INUSE));
    return m;
  }

  check(when: string): void {
    const k = this.k.k;
    const fail = (kind: string, msg: string) => {
      throw new FuzzFailure(kind, `${msg} (${when})`);
    };
    const cc = k.callout_check();
    if (cc !== 0) fail("callout_check", `the callout wheel broke invariant ${cc}`);
    if (this.k.heapTop() !== this.heapTop) fail("heap", `the runtime heap top moved from ${this.heapTop} to ${this.k.heapTop()}`);
    if (k.kmem_bad_frees() !== 0) fail("kmem", `${k.kmem_bad_frees()} bad kmem frees`);
    const live = this.k.vnets();
    const dv = this.dv();
    let pages = k.kmem_kernel_pages();
    let callouts = 0;
    for (const v of live) {
      pages += k.vnet_pages(v.ptr);
      callouts += dv.getUint32(v.ptr + VNET_CALLOUTS, true);
    }
    const acct = this.k.accounting();
    if (acct.zombies !== 0) fail("leak", `${acct.zombies} zombie vnets`);
    if (pages !== acct.pagesInUse) fail("kmem", `pages in use ${acct.pagesInUse} != kernel's ${k.kmem_kernel_pages()} + every vnet's = ${pages}`);
    if (callouts !== k.callout_pending_count()) fail("callouts", `pending ${k.callout_pending_count()} != sum over vnets ${callouts}`);
    for (const z of this.zones()) {
      const name = this.k.cstring(k.zone_name_ptr(z), 24);
      const inuse = k.zone_stat(z, ZS_INUSE);
      const limit = k.zone_stat(z, ZS_LIMIT);
      if (k.zone_stat(z, ZS_ALLOCS) - k.zone_stat(z, ZS_FREES) !== inuse) fail("zone", `${name}: allocs - frees != in use ${inuse}`);
      if (limit > 0 && inuse > limit) fail("zone", `${name}: ${inuse} in use over its limit ${limit}`);
      if (k.zone_stat(z, ZS_BADFREES) !== 0) fail("zone", `${name}: ${k.zone_stat(z, ZS_BADFREES)} bad frees (double or foreign)`);
      if (k.zone_stat(z, ZS_FLAGS) & ZONE_CHARGE) {
        let sum = 0;
        for (const v of live) sum += k.zone_vnet_stat(z, k.vnet_base(v.ptr), 0);
        if (sum !== inuse) fail("zone", `${name}: ${inuse} in use but the vnets' charges add up to ${sum}`);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Targets

  async target(opts: { bridge?: boolean; router?: boolean } = {}): Promise<Target> {
    const k = this.k;
    const T = k.createVnet();
    const Wv = k.createVnet();
    const [eT, eW] = k.epair(T, Wv);
    eT.setUp();
    let ipIf = eT;
    let bridge: Interface | undefined;
    const members: Interface[] = [];
    if (opts.bridge) {
      // The bridge carries the addresses; eT and a second member m2 (its other end down in W).
      [bridge] = T.ifcreate("bridge");
      const [m2, m2w] = k.epair(T, Wv);
      void m2w;
      m2.setUp();
      bridgeAdd(k, bridge, eT);
      bridgeAdd(k, bridge, m2);
      bridge.setUp();
      members.push(eT, m2);
      ipIf = bridge;
    }
    addAddress(k, ipIf, `${T4}/24`);
    addAddress6(k, ipIf, `${T6}/64`);
    if (opts.router) {
      const [eR] = k.epair(T, Wv);
      eR.setMtu(1280);
      eR.setUp();
      addAddress(k, eR, "10.0.1.2/24");
      addAddress6(k, eR, "fd00:1::2/64");
      setForwarding(k, T, true);
      setForwarding6(k, T, true);
      members.push(eR);
    }
    const tcp4 = socket(k, T, "inet", "stream").bind("0.0.0.0", 80).listen(4);
    const tcp6 = socket(k, T, "inet6", "stream").bind("::", 80).listen(4);
    const udp4 = socket(k, T, "inet", "dgram").bind("0.0.0.0", 53);
    const udp6 = socket(k, T, "inet6", "dgram").bind("::", 53);
    const cap = eT.capture();
    let t: Target | undefined;
    const tmac = eT.mac.toLowerCase();
    cap.toPcap(new PcapStream((f) => {
      // What eT sent (its own MAC as the source, or a bridged frame going out of it).
      if (t && (W.hex(f.subarray(6, 12)) === tmac.replace(/:/g, "") || opts.bridge)) t.out.push(f);
    }));
    t = new Target(this, T, Wv, eT, eW, cap, tcp4, tcp6, udp4, udp6);
    t.bridge = bridge;
    t.members = members;
    t.router = opts.router === true;
    return t;
  }

  /**
   * One case: a fresh target, the case's body, then every invariant. Throws FuzzFailure.
   * The clock may move in a case (TCP timers); the bystanders have nothing that could run.
   */
  async run(body: (t: Target) => void | Promise<void>, opts: { bridge?: boolean; router?: boolean } = {}): Promise<void> {
    this.cases++;
    const before = this.zoneUse();
    const t = await this.target(opts);
    // The first failure is the one reported: a trap in the body also makes the teardown
    // fail (a leak), and that must not hide it.
    let failure: unknown;
    try {
      await body(t);
      this.check("after the case");
    } catch (e) {
      failure = e;
    }
    try {
      await this.destroyChecked(t, before);
    } catch (e) {
      failure ??= e;
    }
    if (failure !== undefined) throw failure;
    this.check("after the target was destroyed");
    this.checkBystanders();
  }

  private async destroyChecked(t: Target, before: Map<number, number>): Promise<void> {
    try {
      await t.cap.stop();
    } catch (e) {
      throw new FuzzFailure("host exception", `capture stop: ${String(e)}`);
    }
    for (const s of [t.tcp4, t.tcp6, t.udp4, t.udp6, ...t.sockets]) this.guard(() => s.close());
    // Epairs were made in vnet0 and would go home there with their vnets (if_vmove): destroy them.
    for (const e of [t.eT, ...t.members.filter((m) => m !== t.eT)]) if (e.alive) this.guard(() => e.destroy());
    for (const v of [t.T, t.Wv]) {
      try {
        v.destroy();
      } catch (e) {
        if (e instanceof LeakError) throw new FuzzFailure("leak", e.message);
        if (e instanceof KernelPanic) throw new FuzzFailure("trap", e.message);
        throw new FuzzFailure("host exception", `destroy ${v.name}: ${String(e)}`);
      }
    }
    const after = this.zoneUse();
    for (const [z, n] of before) {
      const m = after.get(z);
      if (m !== n) throw new FuzzFailure("leak", `zone ${this.k.cstring(this.k.k.zone_name_ptr(z), 24)}: ${n} items in use before the case, ${m} after the target was destroyed`);
    }
  }

  shutdown(): void {
    for (const s of this.keep) s.close();
    this.k.shutdown();
  }
}
