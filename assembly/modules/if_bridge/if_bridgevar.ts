// if_bridge structures and limits (FreeBSD net/if_bridgevar.h). Everything here lives in
// zone items or kmem pages charged to the vnet the bridge was created in; nothing is managed.

import { CALLOUT_SIZE } from "../../kmod/kapi";

export const BRIDGE_MAGIC: u32 = 0x42524447; // "BRDG"
export const BRIDGE_MAX_MEMBERS: u32 = 64;
export const BRIDGE_RTABLE_MAX: u32 = 4096; // default maxaddr (FreeBSD: 2000)
export const BRIDGE_RTABLE_LIMIT: u32 = 65536; // highest maxaddr a bridge may be given
export const BRIDGE_RTABLE_TIMEOUT_S: u32 = 1200; // net.link.bridge ageing default
export const BRIDGE_AGEING_MAX_S: u32 = 1000000;
export const BRIDGE_RTHASH_SIZE: u32 = 1024; // buckets: one 4 KiB page of pointers
export const BRIDGE_SWEEP_MIN_US: u64 = 1_000_000; // sweeps coalesce to at most one a second
/**
 * Nested bridge processing (bridge -> wire -> bridge -> ...) deeper than this is dropped. epair
 * defers deliveries nested deeper than 32 to a callout, so this is the last resort for a
 * transport that does not:
 * with no spanning tree, a loop of bridges must not overflow the Wasm stack.
 */
export const BRIDGE_MAX_DEPTH: u32 = 64;

// Address table entry flags (IFBAF_*).
export const IFBAF_DYNAMIC: u32 = 0;
export const IFBAF_STATIC: u32 = 1;

// Port flags.
export const BIF_WASPROMISC: u32 = 1; // the member was promiscuous before it joined

// Bridge counters (u64 each, BridgeSoftc stats).
export const BS_FORWARDED: u32 = 0; // known unicast sent to its one port
export const BS_FLOODED: u32 = 1; // frames sent to every other port (unknown unicast, bcast, mcast)
export const BS_LOCAL: u32 = 2; // frames handed up for local delivery (bridge or member address)
export const BS_DROP_SAMEPORT: u32 = 3; // known unicast whose port is the one it came in on
export const BS_DROP_BAD: u32 = 4; // runt, zero or multicast source
export const BS_DROP_NOMEM: u32 = 5; // a copy could not be made
export const BS_DROP_LOOP: u32 = 6; // our own source address came back, or nested too deep (loops)
export const BS_DROP_NOPORT: u32 = 7; // local transmit with no member up
export const BS_LEARNED: u32 = 8; // addresses added
export const BS_MOVED: u32 = 9; // addresses seen on another port
export const BS_TABLEFULL: u32 = 10; // addresses not learned: table at maxaddr
export const BS_EXPIRED: u32 = 11; // addresses aged out
export const BS_MLD_SNOOPED: u32 = 12; // multicast frames sent to their listeners' ports only (MLD snooping)
export const BS_MLD_LEARNED: u32 = 13; // (group, port) memberships learned from MLD reports
export const BS_COUNT: u32 = 14;

// Port counters (u64 each, BridgePort stats).
export const BP_IPACKETS: u32 = 0; // frames from this member into the bridge
export const BP_IBYTES: u32 = 1;
export const BP_OPACKETS: u32 = 2; // frames the bridge sent out of this member
export const BP_OBYTES: u32 = 3;
export const BP_FLOODED: u32 = 4; // of those, sent by flooding
export const BP_DROPPED: u32 = 5; // frames from this member the bridge dropped
export const BP_OERRORS: u32 = 6; // sends on this member that failed (down, too big)
export const BP_COUNT: u32 = 7;

/** struct bridge_softc: one per bridge interface (zone "bridge_softc"). */
@unmanaged export class BridgeSoftc {
  magic: u32;
  nmembers: u32;
  ifp: usize; // the bridge interface
  vnet: usize; // struct vnet * it was created in: pays for the softc, ports, entries, hash page
  vbase: usize; // that vnet's data block (charged zone frees)
  members: usize; // BridgePort list
  rthash: usize; // BRIDGE_RTHASH_SIZE bucket heads (kmem page)
  rthash_key: u32; // per-bridge hash key, so chains cannot be predicted from outside
  rtcount: u32; // entries, static included
  rtmax: u32; // maxaddr
  nstatic: u32;
  ageing_us: u64; // 0: dynamic entries are not kept (hub mode)
  defaddr: u64; // the generated MAC (low 6 bytes), given back when the member it took goes
  ifaddr: usize; // net.link.bridge.inherit_mac: the member whose MAC the bridge took, or 0
  next: usize; // every bridge of the module (unload, vnet teardown)
  prev: usize;
  mld_snoop: u32; // ifconfig bridgeN mldsnoop: multicast to learned groups goes to their listeners only (bridge_mld.ts)
  mdb_count: u32;
  mdb_head: usize; // Mdbnode list: the groups learned from MLD reports, per port
  // then: stats (BS_COUNT x u64), callout (CALLOUT_SIZE)
}
export const SC_STATS_OFF: usize = (offsetof<BridgeSoftc>() + 7) & ~7;
export const SC_CALLOUT_OFF: usize = SC_STATS_OFF + BS_COUNT * 8;
export const SC_SIZE: u32 = <u32>((SC_CALLOUT_OFF + CALLOUT_SIZE + 7) & ~7);

/** struct bridge_iflist: one per member (zone "bridge_port"). */
@unmanaged export class BridgePort {
  ifp: usize;
  sc: usize;
  next: usize;
  flags: u32; // BIF_*
  mrouter_until: u64; // an MLD query was heard on this port until then (us): a router is there (bridge_mld.ts)
  // then: stats (BP_COUNT x u64)
}
export const BP_STATS_OFF: usize = (offsetof<BridgePort>() + 7) & ~7;
export const BP_SIZE: u32 = <u32>((BP_STATS_OFF + BP_COUNT * 8 + 7) & ~7);

/** struct bridge_rtnode: one learned or static address (zone "bridge_rtnode"). */
@unmanaged export class Rtnode {
  next: usize; // hash chain
  port: usize; // BridgePort *
  addr_lo: u32; // MAC bytes 0-3 as loaded from memory
  addr_hi: u32; // MAC bytes 4-5
  used: u64; // last time the address was seen as a source, us (expiry = used + ageing)
  flags: u32; // IFBAF_*
}
export const RT_SIZE: u32 = <u32>((offsetof<Rtnode>() + 7) & ~7);

export const BRIDGE_MDB_MAX: u32 = 1024; // (group, port) memberships one bridge keeps
export const BRIDGE_MLD_TIMEOUT_US: u64 = 260_000_000; // RFC 3810 9.4 Multicast Address Listening Interval: 2 x 125 s + 10 s

/** One port listening to one group, learned from an MLD report (zone "bridge_mdb"). */
@unmanaged export class Mdbnode {
  next: usize;
  port: usize; // BridgePort *
  group: u32; // the group's low 32 bits as loaded from memory: its Ethernet address is 33:33 and these (RFC 2464 7)
  pad: u32;
  until: u64; // membership timeout, us
}
export const MDB_SIZE: u32 = <u32>((offsetof<Mdbnode>() + 7) & ~7);

@inline export function sc_stat(sc: usize, which: u32): void {
  const p = sc + SC_STATS_OFF + (<usize>which << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline export function sc_callout(sc: usize): usize {
  return sc + SC_CALLOUT_OFF;
}

@inline export function bp_add(bif: usize, which: u32, n: u64): void {
  const p = bif + BP_STATS_OFF + (<usize>which << 3);
  store<u64>(p, load<u64>(p) + n);
}
