// Interfaces from the host: ifconfig-style create/destroy, up/down, MTU, MAC, moving
// between vnets, counters, raw frames in and out, and the ifconfig text.

import type { Kernel, Vnet } from "../kern/kernel.js";
import { KernelError, WavnetError, ConfigError, Errno } from "../lib/errors.js";
import { formatTable, show } from "../lib/format.js";
import { integerArg, booleanArg } from "../lib/check.js";
import { checkVnet, checkKernel } from "../kern/kernel.js";
import { epairConditions, clearConditions, getConditions, epairStats, epairPeer, type LinkConditions, type EpairStats } from "./epair.js";

export class InterfaceGoneError extends WavnetError {}

const IFF = { UP: 0x1, BROADCAST: 0x2, LOOPBACK: 0x8, RUNNING: 0x40, PROMISC: 0x100, SIMPLEX: 0x800, MULTICAST: 0x8000 };
const IFF_NAMES: [number, string][] = [[0x1, "UP"], [0x2, "BROADCAST"], [0x8, "LOOPBACK"], [0x40, "RUNNING"], [0x100, "PROMISC"], [0x800, "SIMPLEX"], [0x8000, "MULTICAST"]];
const IFT: Record<number, string> = { 0x6: "ether", 0x18: "loopback", 0xd1: "bridge" };
const COUNTERS = ["ipackets", "ierrors", "opackets", "oerrors", "collisions", "ibytes", "obytes", "imcasts", "omcasts", "iqdrops", "oqdrops", "noproto"] as const;
export type IfCounters = Record<(typeof COUNTERS)[number], number>;

export interface IfnetExports {
  kern_iobuf(): number;
  ifh_create(v: number, len: number): number;
  ifh_created(): number;
  ifh_created_at(i: number): number;
  ifh_error(): number;
  ifh_destroy(ifp: number): number;
  ifh_lookup(v: number, len: number): number;
  ifh_first(v: number): number;
  ifh_next(ifp: number): number;
  ifh_valid(ifp: number): number;
  ifh_name(ifp: number): number;
  ifh_lladdr(ifp: number): number;
  ifh_info(ifp: number, what: number): number;
  ifh_setflags(ifp: number, up: number, promisc: number): number;
  ifh_setmtu(ifp: number, mtu: number): number;
  ifh_setcap(ifp: number, caps: number): number;
  ifh_setlladdr(ifp: number): number;
  ifh_vmove(ifp: number, v: number): number;
  ifh_send(ifp: number, len: number): number;
  ifh_input(ifp: number, len: number): number;
  etherh_stat(v: number, which: number): number;
}

export const ETHERSTATS = ["down", "runt", "oversize", "badlen", "badsrc", "notforus", "vlan", "noproto", "nomem", "outdown", "offloadSoftware", "offloadFailed"] as const;

/** Offload capabilities (FreeBSD IFCAP_* values): ifconfig's rxcsum, txcsum, tso4, rxcsum6, txcsum6, tso6. */
export const IFCAP = { RXCSUM: 0x1, TXCSUM: 0x2, TSO4: 0x100, TSO6: 0x200, RXCSUM_IPV6: 0x200000, TXCSUM_IPV6: 0x400000 } as const;
const IFCAP_ALL = IFCAP.RXCSUM | IFCAP.TXCSUM | IFCAP.TSO4 | IFCAP.TSO6 | IFCAP.RXCSUM_IPV6 | IFCAP.TXCSUM_IPV6;

/** FreeBSD's ifconfig names of IFCAP bits, in bit order (options=...<...>). */
export function capNames(caps: number): string {
  return (Object.entries(IFCAP) as [string, number][]).sort((a, b) => a[1] - b[1]).filter(([, v]) => (caps & v) !== 0).map(([n]) => n).join(",");
}

/** ifconfig's offload words (FreeBSD ifconfig(8)): the IFCAP bits each turns on, or off with a leading "-". */
export const IFCAP_WORDS: Record<string, number> = {
  rxcsum: IFCAP.RXCSUM, txcsum: IFCAP.TXCSUM, tso4: IFCAP.TSO4, tso6: IFCAP.TSO6, tso: IFCAP.TSO4 | IFCAP.TSO6,
  rxcsum6: IFCAP.RXCSUM_IPV6, txcsum6: IFCAP.TXCSUM_IPV6,
};

/** MTU bounds of every interface (assembly/sys/if.ts). */
const IF_MINMTU = 72;
/** assembly/sys/if.ts */
const IF_MAXMTU = 65535;
/** The epair driver's largest MTU (assembly/modules/if_epair/if_epairvar.ts). */
const EPAIR_MAXMTU = 16384;
/** The vxlan driver's largest MTU (assembly/modules/if_vxlan.ts). */
const VXLAN_MAXMTU = 16384;
/** What an interface assists for packets sent now (FreeBSD CSUM_* values of if_hwassist). */
export const CSUM = { TCP: 0x4, UDP: 0x2, TSO: 0x10, TCP_IPV6: 0x400, UDP_IPV6: 0x200, TSO6: 0x1000 } as const;
export type EtherStats = Record<(typeof ETHERSTATS)[number], number>;

function k(kernel: Kernel): IfnetExports {
  return kernel.k as unknown as IfnetExports;
}

/** Write an ASCII name into the kernel's I/O buffer; returns its length. */
export function putName(kernel: Kernel, name: string, what: string): number {
  if (typeof name !== "string" || !/^[A-Za-z][A-Za-z0-9_.]{0,14}$/.test(name)) {
    throw new ConfigError(`${what}: interface name must be 1-15 of [A-Za-z0-9_.] starting with a letter, got ${show(name)}`);
  }
  const buf = new Uint8Array(kernel.memory.buffer, k(kernel).kern_iobuf(), name.length);
  for (let i = 0; i < name.length; i++) buf[i] = name.charCodeAt(i);
  return name.length;
}

export function parseMac(mac: string): Uint8Array {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(mac);
  if (!m) throw new ConfigError(`MAC address must look like 02:00:00:00:00:01, got ${show(mac)}`);
  return Uint8Array.from(m.slice(1).map((x) => parseInt(x, 16)));
}

export function formatMac(b: Uint8Array): string {
  if (!(b instanceof Uint8Array) || b.length !== 6) throw new ConfigError(`a MAC address is 6 bytes, got ${show(b)}`);
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/**
 * @internal i as an argument of a call on `kernel`, checked before anything changes: an
 * Interface (ConfigError otherwise), of this kernel (ConfigError: another memory's
 * interface), that still exists (InterfaceGoneError).
 */
export function checkInterface(kernel: Kernel, i: unknown, what: string): Interface {
  checkKernel(kernel, what);
  if (!(i instanceof Interface)) throw new ConfigError(`${what}: expected an Interface, got ${show(i)}`);
  if (i.kernel !== kernel) throw new ConfigError(`${what}: interface #${i.serial} belongs to another kernel`);
  i.check(what);
  return i;
}

/** A handle on one struct ifnet; it goes stale when the interface is destroyed. */
export class Interface {
  readonly serial: number;
  constructor(/** The kernel the interface lives in. */ readonly kernel: Kernel, readonly ptr: number) {
    this.serial = k(kernel).ifh_info(ptr, 8);
  }

  /** True while the interface exists (destroyed by the host, a cloner, or its vnet's teardown: false). */
  get alive(): boolean {
    const x = k(this.kernel);
    return x.ifh_valid(this.ptr) !== 0 && x.ifh_info(this.ptr, 8) === this.serial;
  }

  /** @internal throws InterfaceGoneError once the interface was destroyed or moved away. */
  check(what: string): IfnetExports {
    if (!this.alive) throw new InterfaceGoneError(`${what}: interface #${this.serial} no longer exists`);
    return k(this.kernel);
  }

  get name(): string {
    const x = this.check("name");
    return this.kernel.cstring(x.ifh_name(this.ptr), 16);
  }

  get index(): number {
    return this.check("index").ifh_info(this.ptr, 0);
  }

  get flags(): number {
    return this.check("flags").ifh_info(this.ptr, 1);
  }

  get up(): boolean {
    return (this.flags & IFF.UP) !== 0;
  }

  get running(): boolean {
    return (this.flags & IFF.RUNNING) !== 0;
  }

  get mtu(): number {
    return this.check("mtu").ifh_info(this.ptr, 2);
  }

  get type(): string {
    const t = this.check("type").ifh_info(this.ptr, 3);
    return IFT[t] ?? `type ${t}`;
  }

  get mac(): string {
    const x = this.check("mac");
    return formatMac(new Uint8Array(this.kernel.memory.buffer, x.ifh_lladdr(this.ptr), 6).slice());
  }

  /**
   * Name, MAC and MTU at once, with one liveness check instead of one per field (5 kernel
   * crossings, not 9: the page's LabInfo reads these for every interface of a lab, 360 for a
   * 10 x 10 grid); undefined once the interface is gone.
   */
  describe(): { name: string; mac: string; mtu: number } | undefined {
    if (!this.alive) return undefined;
    const x = k(this.kernel);
    const name = this.kernel.cstring(x.ifh_name(this.ptr), 16);
    const mtu = x.ifh_info(this.ptr, 2);
    const mac = formatMac(new Uint8Array(this.kernel.memory.buffer, x.ifh_lladdr(this.ptr), 6).slice());
    return { name, mac, mtu };
  }

  /** The vnet the interface is in now. */
  get vnet(): Vnet {
    return this.kernel.vnetByPtr(this.check("vnet").ifh_info(this.ptr, 4));
  }

  /** The vnet it was created in (where it goes back to when its current vnet is destroyed). */
  get home(): Vnet | undefined {
    const p = this.check("home").ifh_info(this.ptr, 5);
    return this.kernel.vnetByPtrOrUndefined(p);
  }

  /** IFCAP_* bits the driver offers (epair: RXCSUM, TXCSUM, TSO4 and the IPv6 three). */
  get capabilities(): number {
    return this.check("capabilities").ifh_info(this.ptr, 9);
  }

  /** IFCAP_* bits turned on. */
  get capEnable(): number {
    return this.check("capenable").ifh_info(this.ptr, 10);
  }

  /** CSUM_* the driver assists for packets sent now (drops while a capture, a bridge or link conditions need real frames). */
  get hwAssist(): number {
    return this.check("hwassist").ifh_info(this.ptr, 11);
  }

  /** ifconfig rxcsum/txcsum/tso on or off: the IFCAP_* bits to have on (others the driver lacks are ignored). */
  setCapEnable(caps: number): void {
    const x = this.check("capenable");
    integerArg(`capabilities ${this.name}: caps`, caps, 0, 0xffffffff, " (IFCAP_* bits)");
    if ((caps & ~IFCAP_ALL) !== 0) {
      throw new ConfigError(`capabilities ${this.name}: unknown IFCAP bits 0x${((caps & ~IFCAP_ALL) >>> 0).toString(16)} (known: RXCSUM 0x1, TXCSUM 0x2, TSO4 0x100, TSO6 0x200, RXCSUM_IPV6 0x200000, TXCSUM_IPV6 0x400000)`);
    }
    this.errno("ifconfig capabilities", this.kernel.enter(() => x.ifh_setcap(this.ptr, caps)));
  }

  counters(): IfCounters {
    const x = this.check("counters");
    const out = {} as IfCounters;
    COUNTERS.forEach((name, i) => (out[name] = x.ifh_info(this.ptr, 16 + i)));
    return out;
  }

  private errno(what: string, r: number): void {
    if (r !== 0) throw new KernelError(`${what} ${this.name}`, r);
  }

  setUp(up = true): void {
    const x = this.check("up");
    booleanArg(`${up ? "up" : "down"} ${this.name}: up`, up);
    this.errno(up ? "up" : "down", this.kernel.enter(() => x.ifh_setflags(this.ptr, up ? 1 : 0, -1)));
  }

  setDown(): void {
    this.setUp(false);
  }

  setPromisc(on: boolean): void {
    const x = this.check("promisc");
    booleanArg(`promisc ${this.name}: on`, on);
    this.errno("promisc", this.kernel.enter(() => x.ifh_setflags(this.ptr, -1, on ? 1 : 0)));
  }

  /** The largest MTU the interface's driver takes: epair and vxlan 16384, loopback and bridge 65535. */
  get maxMtu(): number {
    return this.#driverMtu()[0];
  }

  #driverMtu(): [number, string] {
    if (this.type !== "ether") return [IF_MAXMTU, ""];
    const k = this.kernel;
    const epair = k.linker.isLoaded("if_epair") && k.module<{ epair_peer(ifp: number): number }>("if_epair").epair_peer(this.ptr) !== 0;
    return epair ? [EPAIR_MAXMTU, " (the epair driver's limit)"] : [VXLAN_MAXMTU, " (the vxlan driver's limit)"];
  }

  setMtu(mtu: number): void {
    const x = this.check("mtu");
    const [max, why] = this.#driverMtu();
    integerArg(`mtu ${this.name}:`, mtu, IF_MINMTU, max, why);
    const r = this.kernel.enter(() => x.ifh_setmtu(this.ptr, mtu));
    if (r === -Errno.EINVAL && this.type === "bridge") throw new KernelError(`mtu ${this.name} ${mtu}: a bridge's MTU is its members' (${this.mtu}); change the members' first`, r);
    this.errno(`mtu ${mtu}`, r);
  }

  setMac(mac: string): void {
    const x = this.check("ether");
    const b = parseMac(mac);
    if (b[0] & 1) throw new ConfigError(`ether ${this.name}: ${mac} is a multicast address`);
    if (b.every((v) => v === 0)) throw new ConfigError(`ether ${this.name}: the all-zero address is not an interface address`);
    new Uint8Array(this.kernel.memory.buffer, x.kern_iobuf(), 6).set(b);
    this.errno("ether", this.kernel.enter(() => x.ifh_setlladdr(this.ptr)));
  }

  /** if_vmove: move into another vnet (ifconfig IF vnet JAIL). */
  moveTo(vnet: Vnet): void {
    const x = this.check("vnet");
    checkVnet(this.kernel, vnet, `move ${this.name}: target vnet`);
    const r = this.kernel.enter(() => x.ifh_vmove(this.ptr, vnet.ptr));
    if (r === -Errno.EEXIST) throw new KernelError(`move ${this.name} into vnet "${vnet.name}": an interface of that name exists there`, r);
    if (r === -Errno.EPERM) throw new KernelError(`move ${this.name}: a loopback interface stays in its vnet`, r);
    this.errno(`move into vnet "${vnet.name}":`, r);
  }

  /** ifconfig IF destroy (a cloned interface; an epair goes with both ends). */
  destroy(): void {
    const x = this.check("destroy");
    const name = this.name;
    const r = this.kernel.enter(() => x.ifh_destroy(this.ptr));
    if (r === -Errno.EPERM) throw new KernelError(`destroy ${name}: not a cloned interface`, r);
    if (r !== 0) throw new KernelError(`destroy ${name}`, r);
  }

  private put(frame: Uint8Array, what: string): number {
    const x = this.check(what);
    if (!(frame instanceof Uint8Array)) throw new ConfigError(`${what} ${this.name}: a frame is a Uint8Array`);
    if (frame.length > 65536) throw new ConfigError(`${what} ${this.name}: frame of ${frame.length} bytes is larger than 65536`);
    new Uint8Array(this.kernel.memory.buffer, x.kern_iobuf(), frame.length).set(frame);
    return frame.length;
  }

  /** Send a complete frame out of this interface (a BPF write). Returns 0 or a negative errno. */
  send(frame: Uint8Array): number {
    const len = this.put(frame, "send");
    return this.kernel.enter(() => k(this.kernel).ifh_send(this.ptr, len));
  }

  /** Hand a frame to this interface as if it had arrived from its wire. */
  receive(frame: Uint8Array): number {
    const len = this.put(frame, "receive");
    return this.kernel.enter(() => k(this.kernel).ifh_input(this.ptr, len));
  }

  /**
   * Link conditions for frames this epair end sends (delay, jitter, loss, duplication,
   * reordering, rate with a bounded queue); replaces all of them. See host/epair.ts.
   */
  setConditions(c: LinkConditions): void {
    epairConditions(this.kernel, this, c);
  }

  clearConditions(): void {
    clearConditions(this.kernel, this);
  }

  conditions(): Required<LinkConditions> {
    return getConditions(this.kernel, this);
  }

  /** This epair end's link counters (sent, delivered, lost, duplicated, queue drops, ...). */
  linkStats(): EpairStats {
    return epairStats(this.kernel, this);
  }

  /** The other end of this epair. */
  get peer(): Interface {
    return epairPeer(this.kernel, this);
  }

  toString(): string {
    return this.name;
  }
}

export function flagNames(flags: number): string {
  return IFF_NAMES.filter(([b]) => flags & b).map(([, n]) => n).join(",");
}

/** The interfaces of a vnet, in index order. */
export function interfacesOf(kernel: Kernel, v: Vnet): Interface[] {
  const x = k(kernel);
  const out: Interface[] = [];
  for (let p = x.ifh_first(v.ptr); p !== 0; p = x.ifh_next(p)) out.push(new Interface(kernel, p));
  return out;
}

export function lookup(kernel: Kernel, v: Vnet, name: string): Interface | undefined {
  const len = putName(kernel, name, "interface");
  const p = k(kernel).ifh_lookup(v.ptr, len);
  return p === 0 ? undefined : new Interface(kernel, p);
}

/**
 * ifconfig NAME create in vnet v: NAME is a cloner ("epair", "bridge") with an optional
 * unit. Returns every interface the cloner made (an epair: both ends).
 */
export function createClone(kernel: Kernel, v: Vnet, name: string): Interface[] {
  const len = putName(kernel, name, "ifconfig create");
  const x = k(kernel);
  const p = kernel.enter(() => x.ifh_create(v.ptr, len));
  if (p === 0) {
    const e = x.ifh_error();
    if (e === -Errno.ENOENT) throw new KernelError(`ifconfig ${name} create: no cloner "${name.replace(/\d+$/, "")}" (is its module loaded?)`, e);
    if (e === -Errno.EEXIST) throw new KernelError(`ifconfig ${name} create: ${name} exists`, e);
    if (e === -Errno.ENOMEM || e === 0) throw new KernelError(`ifconfig ${name} create: out of memory, or vnet "${v.name}" is at its interface limit`, -Errno.ENOMEM);
    throw new KernelError(`ifconfig ${name} create`, e);
  }
  const made: Interface[] = [new Interface(kernel, p)];
  const n = Math.min(x.ifh_created(), 8);
  for (let i = 0; i < n; i++) {
    const q = x.ifh_created_at(i);
    if (q !== p && q !== 0) made.push(new Interface(kernel, q));
  }
  return made;
}

export function etherStats(kernel: Kernel, v: Vnet): EtherStats {
  const out = {} as EtherStats;
  ETHERSTATS.forEach((n, i) => (out[n] = k(kernel).etherh_stat(v.ptr, i)));
  return out;
}

/** ifconfig's text for a vnet's interfaces. */
export function ifconfigText(kernel: Kernel, v: Vnet): string {
  const lines: string[] = [];
  for (const i of interfacesOf(kernel, v)) {
    const c = i.counters();
    const home = i.home;
    lines.push(`${i.name}: flags=${i.flags.toString(16)}<${flagNames(i.flags)}> mtu ${i.mtu} index ${i.index}`);
    if (i.type !== "loopback") lines.push(`\tether ${i.mac}`);
    if (home && home !== v) lines.push(`\thome vnet "${home.name}"`);
    lines.push(`\tinput ${c.ipackets} packets ${c.ibytes} bytes ${c.ierrors} errors ${c.iqdrops} drops ${c.noproto} noproto`);
    lines.push(`\toutput ${c.opackets} packets ${c.obytes} bytes ${c.oerrors} errors ${c.oqdrops} drops`);
  }
  return lines.join("\n");
}

/** netstat -i style table for a vnet. */
export function netstatI(kernel: Kernel, v: Vnet): string {
  return formatTable(
    ["Name", "Mtu", "Address", "Ipkts", "Ierrs", "Idrop", "Opkts", "Oerrs", "Odrop"],
    interfacesOf(kernel, v).map((i) => {
      const c = i.counters();
      return [i.name, i.mtu, i.type === "loopback" ? "<Link>" : i.mac, c.ipackets, c.ierrors, c.iqdrops, c.opackets, c.oerrors, c.oqdrops];
    }),
  );
}
