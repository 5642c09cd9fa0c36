// Test fixture: pfil hooks the host can place on any head of any vnet (net/pfil.ts), each
// doing one thing to every packet it sees: pass, drop, keep (consume) or replace with a
// copy. Slots are the fixture's, global; a hook is (slot's function, arg = slot + 1), so one
// slot can be hooked in several vnets. Each run appends the slot to an order log.
import {
  CURVNET_SET, CURVNET_RESTORE, vnet_valid, m_freem, m_dup, pfil_add_hook, pfil_remove_hook, PFIL_DROPPED, PFIL_CONSUMED,
  MOD_LOAD, MOD_UNLOAD, EINVAL,
} from "../../assembly/kmod/kapi";
import { Mbuf } from "../../assembly/sys/mbuf";
export { kmod_heap_top } from "../../assembly/kmod/kmod";

const NSLOT: u32 = 16;
const ACT_PASS: u32 = 0;
const ACT_DROP: u32 = 1;
const ACT_CONSUME: u32 = 2;
const ACT_REPLACE: u32 = 3;
const actions = memory.data(NSLOT * 4, 4);
const hits = memory.data(NSLOT * 4, 4);
const LOGCAP: u32 = 256;
const log = memory.data(LOGCAP, 4);
let nlog: u32 = 0;
let held: usize = 0; // consumed packets, through m_nextpkt
let lastDir: u32 = 0;

function pft_hook(m: usize, ifp: usize, dir: u32, arg: usize): usize {
  const slot = <u32>arg - 1;
  store<u32>(hits + (slot << 2), load<u32>(hits + (slot << 2)) + 1);
  if (nlog < LOGCAP) store<u8>(log + nlog++, <u8>slot);
  lastDir = dir;
  const a = load<u32>(actions + (slot << 2));
  if (a == ACT_DROP) {
    m_freem(m);
    return PFIL_DROPPED;
  }
  if (a == ACT_CONSUME) {
    changetype<Mbuf>(m).m_nextpkt = held;
    held = m;
    return PFIL_CONSUMED;
  }
  if (a == ACT_REPLACE) {
    const n = m_dup(m);
    m_freem(m);
    return n == 0 ? PFIL_DROPPED : n;
  }
  return m;
}

/** Hook slot (doing action) on (head, dir) of vnet v at priority prio: 0 or -errno. */
export function pft_add(v: usize, head: u32, dir: u32, prio: i32, slot: u32, action: u32): i32 {
  if (!vnet_valid(v) || slot >= NSLOT || action > ACT_REPLACE) return -EINVAL;
  store<u32>(actions + (slot << 2), action);
  const old = CURVNET_SET(v);
  const r = pfil_add_hook(head, dir, pft_hook.index, slot + 1, prio);
  CURVNET_RESTORE(old);
  return r;
}

/** Hook with a function outside this module's table (0: refused), for the checks. */
export function pft_add_fn(v: usize, head: u32, dir: u32, fn: u32): i32 {
  if (!vnet_valid(v)) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = pfil_add_hook(head, dir, fn, 0, 0);
  CURVNET_RESTORE(old);
  return r;
}

export function pft_del(v: usize, head: u32, dir: u32, slot: u32): i32 {
  if (!vnet_valid(v) || slot >= NSLOT) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = pfil_remove_hook(head, dir, pft_hook.index, slot + 1);
  CURVNET_RESTORE(old);
  return r;
}

export function pft_hits(slot: u32): u32 {
  return slot < NSLOT ? load<u32>(hits + (slot << 2)) : 0;
}

export function pft_last_dir(): u32 {
  return lastDir;
}

export function pft_log_len(): u32 {
  return nlog;
}

export function pft_log_at(i: u32): u32 {
  return i < nlog ? load<u8>(log + i) : 0xffffffff;
}

/** Forget the log and hit counts. */
export function pft_reset(): void {
  nlog = 0;
  memory.fill(hits, 0, NSLOT * 4);
}

/** Free the consumed packets; how many there were. */
export function pft_release(): u32 {
  let n: u32 = 0;
  while (held != 0) {
    const next = changetype<Mbuf>(held).m_nextpkt;
    changetype<Mbuf>(held).m_nextpkt = 0;
    m_freem(held);
    held = next;
    n++;
  }
  return n;
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    pft_reset();
    memory.fill(actions, 0, NSLOT * 4);
    return 0;
  }
  if (what == MOD_UNLOAD) pft_release();
  return 0;
}
