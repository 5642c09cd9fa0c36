// The wavnet kernel: the entry point compiled to build/kernel.wasm. It exports the kernel
// API that the host and loadable modules use; it knows no protocol (modules bring those).
// Everything here is callable from a module as an import from "kernel".

import { KGLOBALS } from "./kern/kglobals";
import { vnet_boot, vnet_alloc, vnet_destroy, vnet_valid, vnet_count, vnet_first, vnet_next, vnet_vnet0, vnet_lasterror, vnet_bytes, Vnet } from "./kern/vnet";
import { vnet_section_set_size, vnet_data_alloc, vnet_data_alloc_zero, vnet_data_free, vnet_data_copy, vnet_data_used, vnet_section_size, vnet_master_base } from "./kern/vnet_data";
import { kern_srandom } from "./kern/random";
import { mbuf_boot } from "./kern/uipc_mbuf";
import { if_boot } from "./net/if";
import { ether_boot } from "./net/if_ethersubr";
import { loop_boot } from "./net/if_loop";
import { iobuf_boot } from "./net/if_hostapi";
import { bpf_boot } from "./net/bpf";
import { route_boot } from "./net/route";
import { pfil_boot } from "./net/pfil";
import { KMEM_KERNEL_ACCT } from "./kern/kmem";
import { EINVAL } from "./sys/errno";
import { racct_set_limit, racct_vnet_stat } from "./kern/kern_racct";

export { kmem_alloc, kmem_zalloc, kmem_free, kmem_pages_inuse, kmem_chunks_total, kmem_chunks_free, kmem_chunks_meta, kmem_bad_frees, kmem_grow_failures, kmem_set_limit, kmem_set_budget, kmem_budget_stat } from "./kern/kmem";
export { racct_set_default, racct_stat } from "./kern/kern_racct";
export { zone_create, zone_alloc_in, zone_free_in, zone_destroy, zone_set_vnet_limit, zone_vnet_inuse, zone_first, zone_next, zone_stat, zone_vnet_stat, zone_first_vnet, zone_name_ptr, zone_drain, zone_drain_all } from "./kern/zone";
export { vnet_data_alloc, vnet_data_alloc_zero, vnet_data_free, vnet_data_copy, vnet_data_used, vnet_section_size, vnet_master_base } from "./kern/vnet_data";
export { vnet_alloc, vnet_destroy, vnet_valid, vnet_count, vnet_first, vnet_next, vnet_vnet0, vnet_lasterror, vnet_bytes, vnet_pinned, vnet_zombies, vnet_fresh } from "./kern/vnet";
export { vnet_sysinit_register, sysinit_count } from "./kern/sysinit";
export { kld_begin, kld_end, kld_purge, kld_sysuninit, kld_sysinit_count, kld_stop, kld_zones, kld_items, kld_callouts, kld_sockets } from "./kern/kern_linker";
export { leak_count, leak_dropped, leak_entry, leak_reset } from "./kern/leak";
export { arc4random, arc4random_uniform, random_vnet_state } from "./kern/random";
export {
  mbuf_zone, mbuf_set_vnet_limit, mbuf_set_vnet_zlimit, mbuf_vnet_inuse, mbuf_vnet_fails, mbuf_stat, mbuf_stat_reset,
  m_get, m_gethdr, m_getcl, m_getjcl, m_cljget, m_free, m_freem, m_pullup, m_prepend, M_PREPEND, m_adj, m_split,
  m_copym, m_copydata, m_copyback, m_append, m_cat, m_catpkt, m_length, m_fixhdr, m_dup, m_chargeto, m_align,
  m_move_pkthdr, m_dup_pkthdr, m_demote_pkthdr,
} from "./kern/uipc_mbuf";
export { callout_init, callout_reset, callout_reset_at, callout_schedule, callout_stop, callout_drain, callout_pending, callout_active, callout_deactivate, callout_time, callout_vnet, callout_tick, callout_next, callout_now, callout_pending_count, callout_stat, callout_fired_total, callout_check } from "./kern/kern_timeout";

/** Address of the kernel globals block (curvnet and friends), imported by modules. */
export function kern_globals(): usize {
  return KGLOBALS;
}

/** Boot: size the VNET section, seed randomness, create vnet0. 0 or a negative errno. */
export function kern_boot(sectionBytes: u32, seed: f64): i32 {
  kern_srandom(seed);
  let r = vnet_section_set_size(sectionBytes);
  if (r != 0) return r;
  r = vnet_boot();
  if (r != 0) return r;
  // Subsystems boot like modules load: VNET space, then sysinits that reach vnet0 at once.
  // The mbuf zones keep per-vnet records in the VNET section, so they come after it.
  r = mbuf_boot();
  if (r == 0) r = iobuf_boot();
  if (r == 0) r = bpf_boot();
  if (r == 0) r = if_boot();
  if (r == 0) r = route_boot();
  if (r == 0) r = pfil_boot();
  if (r == 0) r = ether_boot();
  if (r == 0) r = loop_boot();
  if (r == 0) r = socket_boot();
  return r;
}

/**
 * The runtime heap's top. The kernel is built with the stub runtime and must never
 * allocate a managed object after boot; tests check that this does not move.
 */
export function kern_heap_top(): usize {
  const p = heap.alloc(0);
  heap.free(p);
  return p;
}

export function kmem_kernel_pages(): u32 {
  return load<u32>(KMEM_KERNEL_ACCT);
}

export function vnet_id(v: usize): u32 {
  return changetype<Vnet>(v).id;
}

export function vnet_pages(v: usize): u32 {
  return changetype<Vnet>(v).pages;
}

export function vnet_base(v: usize): usize {
  return changetype<Vnet>(v).base;
}

/** Set live vnet v's byte budget (kern_racct.ts; 0 = none). -EINVAL if v is not a live vnet. */
export function vnet_set_memory_budget(v: usize, bytes: u32): i32 {
  if (!vnet_valid(v)) return -EINVAL;
  racct_set_limit(changetype<Vnet>(v).base, bytes);
  return 0;
}

/** One memory figure of live vnet v (kern_racct.ts RV_*), -1 if v is not live. */
export function vnet_memory_stat(v: usize, what: u32): f64 {
  return vnet_valid(v) ? racct_vnet_stat(changetype<Vnet>(v).base, what) : -1;
}

// The interface layer (net/): what modules call, and what the host calls.
export {
  if_alloc, if_initname, if_initname_unit, if_attach, if_detach, if_free, if_valid, ifunit, ifunit_vnet,
  ifnet_byindex_vnet, if_setup, if_setpromisc, if_capchanged, if_setcapenable, if_setmtu, if_setlladdr, if_vmove, if_first, if_next, if_count,
} from "./net/if";
export { if_clone_attach, if_clone_detach, if_clone_destroy_ifp, if_clone_seterror, if_clone_of, if_clone_vnet_destroy, if_clone_count } from "./net/if_clone";
export { ether_input, ether_demux, ether_output, ether_output_frame, ether_gen_addr, ether_set_bridge_input, ether_set_offload_fixup, ether_set_offload_fixup6, etherstat } from "./net/if_ethersubr";
export { looutput, loif } from "./net/if_loop";
export { netisr_register, netisr_unregister } from "./net/netisr";
export {
  pfil_vnet_off, pfil_head_register, pfil_head_unregister, pfil_head_hooks, pfil_head_registered, pfil_add_hook, pfil_remove_hook,
  pfil_hook_count, pfil_stat, pfil_run_hooks, pfilh_count, pfilh_stat,
} from "./net/pfil";
export { bpf_mtap, bpf_close, bpf_readable, bpf_read_ptr, bpf_consume, bpf_stat } from "./net/bpf";
export { eventhandler_register, eventhandler_deregister } from "./kern/kern_eventhandler";
export { zone_charge_move } from "./kern/zone";
export {
  kern_iobuf, ifh_create, ifh_created, ifh_created_at, ifh_error, ifh_destroy, ifh_lookup, ifh_first, ifh_next, ifh_valid, ifh_name, ifh_lladdr,
  ifh_info, ifh_setflags, ifh_setcap, ifh_setmtu, ifh_setlladdr, ifh_vmove, ifh_send, ifh_input, bpfh_attach, etherh_stat,
} from "./net/if_hostapi";
// The route table both families use (net/route.ts).
export { rtable_init, rtable_lookup, rtable_lookup_n, rtable_matches, rtable_find, rtable_insert, rtable_replace, rtable_delete, rtable_flush, rtable_count, rtable_nodes, rtable_zone, rtable_vnet_items, rtable_degraded, rtable_append, rtable_remove } from "./net/route";
export { nhgrp_select, nhgrp_count, nhgrp_member, nhgrp_weight, net_route_multipath } from "./net/route_nhgrp";
export { in_cksum, in_cksum_buf, in_cksum_sum, in_pseudo, in6_pseudo, in_cksum_update, in_delayed_cksum_value } from "./net/in_cksum";

// Sockets (kern/uipc_*.ts): the protocol switch and socket buffers protocol modules use, the
// calls protocols make on sockets, and the host's socket calls (soh_*) and event drain.
import { socket_boot } from "./kern/uipc_socket";
export { protosw_register, protosw_unregister, pffindproto, protosw_busy, protosw_count } from "./kern/uipc_domain";
export { domain_af_register, domain_af_unregister, domain_af_api } from "./kern/uipc_domain";
export { sbappendaddr, sbappendstream, sbdrop, sbdroprecord, sbflush, sbreserve, soreserve } from "./kern/uipc_sockbuf";
export {
  socreate, soclose, soabort, sobind, soconnect, sodisconnect, solisten, soaccept, sonewconn, soshutdown, sosend, soreceive,
  sosetopt, sogetopt, soisconnecting, soisconnected, soisdisconnecting, soisdisconnected, socantsendmore, socantrcvmore,
  sorwakeup, sowwakeup, soseterror, so_valid, so_lasterror, socket_zone, so_maxsockets,
} from "./kern/uipc_socket";
export { sowakeup, soevent_set_ring_size } from "./kern/uipc_soevent";
export {
  kern_sabuf, soh_error, soh_socket, soh_bind, soh_connect, soh_listen, soh_accept, soh_sendto, soh_recvfrom, soh_recvflags,
  soh_shutdown, soh_close, soh_setsockopt, soh_getsockopt, soh_sockname, soh_peername, soh_info, soh_alive, soh_first,
  soh_next, soh_count, soh_ev_drain, soh_ev_out, soh_ev_lost_closed, soh_ev_stat, kern_statbuf, soh_stat,
} from "./kern/uipc_syscalls";
