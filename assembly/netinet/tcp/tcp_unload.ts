// A forced `kldunload tcp` in the talk's three checkpoints. The linker (host/kern/linker.ts)
// runs them in order; this file holds the two that are TCP's own:
//   1. stop new connections: the kernel's protocol switch already refuses new sockets,
//      connects and listens (PR_STOPPING); here every listener leaves its vnet's listen
//      hash, so a SYN finds none and is answered with a RST (RFC 9293 3.10.7.1, the closed
//      port), and the syncache goes with the last listener of each vnet;
//   2. clean up: every connection is dropped (tcp_drop: a RST the peer sees when the
//      connection is synchronized, ECONNABORTED on our socket); TIME_WAIT ends silently,
//      as FreeBSD's tcp_twclose; the RSTs leave at tcp_exit, before anything is freed;
//   3. really go away: the per-vnet uninit and MOD_UNLOAD (tcp.ts), then kld_purge.
// kmod_teardown_count lets kldstat -v show what is left between them.

import { vnet_first, vnet_next, CURVNET_SET, CURVNET_RESTORE, ECONNABORTED } from "../../kmod/kapi";
import { VV, TP, TCPS_CLOSED, TCPS_LISTEN, TCPS_TIME_WAIT, TF_INLISTEN } from "./tcp_var";
import { tcp_enter, tcp_exit, tcp_hash_remove, tcp_close, tcp_drop } from "./tcp_subr";

/** Checkpoint `step` (1 stop, 2 clean up) in every vnet; returns how many pcbs it changed. */
export function kmod_teardown(step: i32): u32 {
  let n: u32 = 0;
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) {
    const vv = VV(v);
    if (vv.up == 0 || vv.pcblist == 0) continue;
    const old = CURVNET_SET(v);
    tcp_enter();
    let tp = vv.pcblist;
    while (tp != 0) {
      const t = TP(tp);
      const next = t.t_lnext; // tcp_close frees at most tp itself
      if (step == 1) {
        if ((t.t_flags & TF_INLISTEN) != 0) {
          tcp_hash_remove(tp);
          n++;
        }
      } else if (step == 2 && t.t_state != TCPS_CLOSED) {
        if (t.t_state == TCPS_TIME_WAIT) tcp_close(tp);
        else tcp_drop(tp, ECONNABORTED);
        n++;
      }
      tp = next;
    }
    tcp_exit(); // the RSTs leave here
    CURVNET_RESTORE(old);
  }
  return n;
}

/** What is left, over every vnet: 0 connections (neither listening nor closed), 1 listeners SYNs still reach. */
export function kmod_teardown_count(what: i32): u32 {
  let n: u32 = 0;
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) {
    const vv = VV(v);
    if (vv.up == 0) continue;
    for (let tp = vv.pcblist; tp != 0; tp = TP(tp).t_lnext) {
      const t = TP(tp);
      if (what == 0 ? t.t_state != TCPS_LISTEN && t.t_state != TCPS_CLOSED : (t.t_flags & TF_INLISTEN) != 0) n++;
    }
  }
  return n;
}
