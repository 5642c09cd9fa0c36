// The frame generator loop the benchmark modules share: n copies of a prepared frame, each
// in a fresh packet-header mbuf charged to ifp's vnet, sent with ether_output_frame.
import { ether_output_frame, m_gethdr, CURVNET_SET, CURVNET_RESTORE } from "../../assembly/kmod/kapi";
import { Mbuf, MT_DATA, mtod } from "../../assembly/sys/mbuf";
import { Ifnet } from "../../assembly/sys/if";

/** Send n copies of the len-byte frame at tmpl out of ifp; returns how many were refused. */
@inline export function send_frames(ifp: usize, tmpl: usize, len: i32, n: u32): u32 {
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  let refused: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const m = m_gethdr(MT_DATA);
    if (m == 0) {
      refused++;
      continue;
    }
    const mm = changetype<Mbuf>(m);
    memory.copy(mtod(m), tmpl, len);
    mm.m_len = len;
    mm.ph_len = len;
    if (ether_output_frame(ifp, m) != 0) refused++;
  }
  CURVNET_RESTORE(old);
  return refused;
}
