// The loopback interface (FreeBSD net/if_loop.c): lo0 in every vnet, created by a
// VNET_SYSINIT and destroyed by its VNET_SYSUNINIT. A packet sent on it comes back into the
// same stack, dispatched by address family through netisr.

import {
  Ifnet, IFT_LOOP, IFF_UP, IFF_RUNNING, IFF_LOOPBACK, IFF_MULTICAST, AF_INET, AF_INET6, BPF_D_OUT,
  IFCOUNTER_IPACKETS, IFCOUNTER_IBYTES, IFCOUNTER_OPACKETS, IFCOUNTER_OBYTES, IFCOUNTER_NOPROTO, IFCOUNTER_OERRORS,
  ETHERTYPE_IP, ETHERTYPE_IPV6, if_inc_counter,
} from "../sys/if";
import { Mbuf, M_PKTHDR, mtod } from "../sys/mbuf";
import { m_freem, m_adj, m_pullup } from "../kern/uipc_mbuf";
import { SI_SUB_PSEUDO, SI_ORDER_ANY } from "../sys/kernel";
import { ENOMEM, EINVAL } from "../sys/errno";
import { vnet_data_alloc, vnet_master, vnet_data_copy } from "../kern/vnet_data";
import { vnet_sysinit_register } from "../kern/sysinit";
import { VNET } from "../kern/vnet";
import { if_alloc, if_initname, if_attach, if_detach, if_free } from "./if";
import { bpf_mtap_af } from "./bpf";
import { netisr_lookup } from "./netisr";

export const LOMTU: u32 = 16384;
let V_loif: u32 = 0;

export function loop_boot(): i32 {
  const off = vnet_data_alloc(sizeof<usize>(), sizeof<usize>());
  if (off < 0) return off;
  V_loif = <u32>off;
  store<usize>(vnet_master(V_loif), 0);
  vnet_data_copy(V_loif, sizeof<usize>());
  return vnet_sysinit_register(SI_SUB_PSEUDO, SI_ORDER_ANY, vnet_loif_init.index, 0, vnet_loif_uninit.index);
}

function vnet_loif_init(): i32 {
  const ifp = if_alloc(IFT_LOOP);
  if (ifp == 0) return ENOMEM;
  if_initname(ifp, changetype<usize>(memory.data<u8>([0x6c, 0x6f, 0x30])), 3); // "lo0"
  const ii = changetype<Ifnet>(ifp);
  ii.if_flags = IFF_LOOPBACK | IFF_MULTICAST | IFF_UP | IFF_RUNNING;
  ii.if_mtu = LOMTU;
  ii.if_transmit = lo_transmit.index;
  const r = if_attach(ifp);
  if (r != 0) {
    if_free(ifp);
    return -r;
  }
  store<usize>(VNET(V_loif), ifp);
  return 0;
}

function vnet_loif_uninit(): void {
  const ifp = load<usize>(VNET(V_loif));
  if (ifp == 0) return;
  if_detach(ifp);
  if_free(ifp);
  store<usize>(VNET(V_loif), 0);
}

/** The current vnet's lo0. */
export function loif(): usize {
  return load<usize>(VNET(V_loif));
}

/** looutput: send packet m (no link header) of address family af back into ifp's stack. */
export function looutput(ifp: usize, m: usize, af: u32): i32 {
  const ii = changetype<Ifnet>(ifp);
  const mm = changetype<Mbuf>(m);
  if ((ii.if_flags & IFF_UP) == 0 || (mm.m_flags & M_PKTHDR) == 0) {
    if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
    m_freem(m);
    return -50; // ENETDOWN
  }
  const len = <u64>mm.ph_len;
  if_inc_counter(ifp, IFCOUNTER_OPACKETS, 1);
  if_inc_counter(ifp, IFCOUNTER_OBYTES, len);
  if (ii.if_bpf != 0) bpf_mtap_af(ifp, af, m, BPF_D_OUT);
  if_inc_counter(ifp, IFCOUNTER_IPACKETS, 1);
  if_inc_counter(ifp, IFCOUNTER_IBYTES, len);
  const etype: u32 = af == AF_INET ? ETHERTYPE_IP : af == AF_INET6 ? ETHERTYPE_IPV6 : 0;
  const fn = etype != 0 ? netisr_lookup(etype) : 0;
  if (fn == 0) {
    if_inc_counter(ifp, IFCOUNTER_NOPROTO, 1);
    m_freem(m);
    return 0;
  }
  mm.ph_rcvif = ifp;
  call_indirect<void>(fn, ifp, m);
  return 0;
}

// if_transmit of lo0 for frames in DLT_NULL form (4-byte host-order family, then the
// packet): what a raw write to lo0 looks like.
function lo_transmit(ifp: usize, m: usize): i32 {
  const mm = changetype<Mbuf>(m);
  if (mm.ph_len < 4) {
    if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
    m_freem(m);
    return -EINVAL;
  }
  if (mm.m_len < 4) {
    m = m_pullup(m, 4);
    if (m == 0) return -ENOMEM;
  }
  const af = load<u32>(mtod(m));
  m_adj(m, 4);
  return looutput(ifp, m, af);
}
