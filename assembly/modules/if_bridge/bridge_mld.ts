// MLD snooping (RFC 4541) on a bridge: `ifconfig bridgeN mldsnoop`, off by default as in
// FreeBSD's if_bridge (Linux's bridge snoops by default). Off, every multicast frame is
// flooded. On, the bridge reads the MLD messages its members send and receive:
//   - a report (MLDv2 records IS_EX/TO_EX, or IS_IN/TO_IN/ALLOW with sources; MLDv1 report)
//     makes its port a listener of the group until the Multicast Address Listening Interval
//     (260 s) passes without another; a leave (TO_IN {} or IS_IN {}, MLDv1 done) removes
//     the port at once (fast leave: no last-listener query is sent);
//   - a query makes its port a router port for the same interval.
// An IPv6 multicast frame to a group some port listens to then goes to those ports and the
// router ports only (an NS to a solicited-node group reaches the one host that has the
// address); a group nobody reported, and ff02::1 always, is flooded as before. Groups are
// told apart by their Ethernet address (33:33 and the group's low 32 bits, RFC 2464 7), so
// two groups that share one are forwarded as one: more copies, never fewer. The bridge
// interface itself still gets its copy of every multicast frame.
//
// Expired memberships are dropped when the table is next read (lookup, learning, listing);
// the table is freed with its port and its bridge. When it is full (BRIDGE_MDB_MAX) a
// report that cannot be kept unlearns its group, which is then flooded.

import { zone_alloc_in, zone_free_in, m_copydata, ticks } from "../../kmod/kapi";
import { Mbuf, mtod } from "../../sys/mbuf";
import {
  BridgeSoftc, BridgePort, Mdbnode, BRIDGE_MDB_MAX, BRIDGE_MLD_TIMEOUT_US, BS_MLD_LEARNED, sc_stat,
} from "./if_bridgevar";

let mdbZone: usize = 0;

export function bridge_mdb_setzone(z: usize): void {
  mdbZone = z;
}

const scratch = memory.data(1024, 8);
const ALLNODES: u32 = 0x01000000; // 00:00:00:01 as loaded: ff02::1's low 32 bits

@inline function node(p: usize): Mdbnode {
  return changetype<Mdbnode>(p);
}

function mdb_free(sc: usize, prev: usize, p: usize): void {
  const s = changetype<BridgeSoftc>(sc);
  if (prev == 0) s.mdb_head = node(p).next;
  else node(prev).next = node(p).next;
  s.mdb_count--;
  zone_free_in(mdbZone, p, s.vbase);
}

/** Drop the expired memberships; with port != 0 also that port's, with group != 0 that group's (all: every one). */
function mdb_sweep(sc: usize, port: usize, group: u32, all: bool): void {
  const now = ticks();
  let prev: usize = 0;
  let p = changetype<BridgeSoftc>(sc).mdb_head;
  while (p != 0) {
    const n = node(p).next;
    if (all || node(p).until <= now || (port != 0 && node(p).port == port) || (group != 0 && node(p).group == group)) mdb_free(sc, prev, p);
    else prev = p;
    p = n;
  }
}

/** The bridge or its member goes: its memberships (bif 0: all) are freed. */
export function bridge_mdb_flush(sc: usize, bif: usize): void {
  mdb_sweep(sc, bif, 0, bif == 0);
}

function mdb_join(sc: usize, bif: usize, group: u32): void {
  if (group == ALLNODES) return;
  const until = ticks() + BRIDGE_MLD_TIMEOUT_US;
  const s = changetype<BridgeSoftc>(sc);
  for (let p = s.mdb_head; p != 0; p = node(p).next) {
    if (node(p).port == bif && node(p).group == group) {
      node(p).until = until;
      return;
    }
  }
  const p = s.mdb_count < BRIDGE_MDB_MAX ? zone_alloc_in(mdbZone, s.vbase) : 0;
  if (p == 0) {
    mdb_sweep(sc, 0, group, false); // cannot be told apart any more: flooded
    return;
  }
  node(p).port = bif;
  node(p).group = group;
  node(p).until = until;
  node(p).next = s.mdb_head;
  s.mdb_head = p;
  s.mdb_count++;
  sc_stat(sc, BS_MLD_LEARNED);
}

function mdb_leave(sc: usize, bif: usize, group: u32): void {
  let prev: usize = 0;
  for (let p = changetype<BridgeSoftc>(sc).mdb_head; p != 0; p = node(p).next) {
    if (node(p).port == bif && node(p).group == group) {
      mdb_free(sc, prev, p);
      return;
    }
    prev = p;
  }
}

/** Learn from an MLD message in frame m (len bytes) that came in on port bif. */
function mld_learn(sc: usize, bif: usize, len: u32): void {
  const ip = scratch + 14;
  let nxt = <u32>load<u8>(ip + 6);
  let off: u32 = 40;
  if (nxt == 0) {
    if (off + 8 + 14 > len) return;
    nxt = load<u8>(ip + off);
    off += (<u32>load<u8>(ip + off + 1) + 1) << 3;
  }
  if (nxt != 58 || off + 24 + 14 > len) return;
  const icp = ip + off;
  const type = load<u8>(icp);
  const end = len - 14 - off; // message bytes we have
  if (type == 130) {
    changetype<BridgePort>(bif).mrouter_until = ticks() + BRIDGE_MLD_TIMEOUT_US;
    return;
  }
  if (type == 131 || type == 132) {
    const g = load<u32>(icp + 20);
    if (load<u8>(icp + 8) != 0xff) return;
    if (type == 131) mdb_join(sc, bif, g);
    else mdb_leave(sc, bif, g);
    return;
  }
  if (type != 143) return;
  const nrec = <u32>bswap<u16>(load<u16>(icp + 6));
  let r: u32 = 8;
  for (let i: u32 = 0; i < nrec && r + 20 <= end; i++) {
    const rtype = load<u8>(icp + r);
    const nsrc = <u32>bswap<u16>(load<u16>(icp + r + 2));
    const g = icp + r + 4;
    if (load<u8>(g) == 0xff) {
      const key = load<u32>(g + 12);
      if (rtype == 2 || rtype == 4 || ((rtype == 1 || rtype == 5) && nsrc != 0)) mdb_join(sc, bif, key);
      else if ((rtype == 1 || rtype == 3) && nsrc == 0) mdb_leave(sc, bif, key);
      else if (rtype == 3 && nsrc != 0) mdb_join(sc, bif, key); // TO_IN with sources: still a listener
    }
    r += 20 + <u32>load<u8>(icp + r + 1) * 4 + nsrc * 16;
  }
}

/**
 * A multicast frame m from port bif (0: the bridge's own): learns from it when it is MLD,
 * and returns the group key (its destination's low 32 bits) when it should go to that
 * group's listeners only, 0 when it is flooded.
 */
export function bridge_mld_check(sc: usize, bif: usize, m: usize): u32 {
  const eh = mtod(m);
  // IPv6 multicast: 33:33:xx:xx:xx:xx, ethertype 0x86dd.
  if (load<u16>(eh) != 0x3333 || load<u16>(eh + 12) != 0xdd86) return 0;
  const group = load<u32>(eh + 2);
  const len = <u32>min<i32>(changetype<Mbuf>(m).ph_len, 1024);
  if (bif != 0 && len >= 14 + 40 && m_copydata(m, 0, <i32>len, scratch)) mld_learn(sc, bif, len);
  if (group == ALLNODES) return 0;
  mdb_sweep(sc, 0, 0, false);
  for (let p = changetype<BridgeSoftc>(sc).mdb_head; p != 0; p = node(p).next) if (node(p).group == group) return group;
  return 0;
}

/** Port bif gets a frame for group: it listens, or a router is there. */
export function bridge_mld_wants(sc: usize, bif: usize, group: u32): bool {
  if (changetype<BridgePort>(bif).mrouter_until > ticks()) return true;
  for (let p = changetype<BridgeSoftc>(sc).mdb_head; p != 0; p = node(p).next) if (node(p).port == bif && node(p).group == group) return true;
  return false;
}

// Membership records for the host: 16 bytes: group key (4, as in the frame), the member's
// struct ifnet pointer u32, seconds left f64.
export const MDB_REC: u32 = 16;

export function bridge_mdb_fill(sc: usize, buf: usize, max: u32): u32 {
  mdb_sweep(sc, 0, 0, false);
  const now = ticks();
  let n: u32 = 0;
  for (let p = changetype<BridgeSoftc>(sc).mdb_head; p != 0 && n < max; p = node(p).next) {
    const o = buf + n * MDB_REC;
    store<u32>(o, node(p).group);
    store<u32>(o, <u32>changetype<BridgePort>(node(p).port).ifp, 4);
    store<f64>(o, <f64>(node(p).until - now) / 1e6, 8);
    n++;
  }
  return n;
}
