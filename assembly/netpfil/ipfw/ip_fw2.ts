// ipfw's packet path (FreeBSD netpfil/ipfw/ip_fw2.c, ipfw_chk): the pfil hook, the packet's
// facts gathered once, the rules walked in order, the action applied.
//
// Facts: the network and upper-layer headers are read into Args once, in place when the
// first mbuf holds them, else from a copy out of the chain (m_copydata); a packet split over
// mbufs is read the same and nothing here depends on a pullup (a TCP header is always
// copied: a RST answering it is built from the copy). A packet whose headers
// are not what its own fields say (an IPv4 header or total length the packet does not hold;
// an IPv6 extension header running past the payload; a TCP, UDP, SCTP or ICMP header cut
// short in an unfragmented packet or a first fragment; a TCP data offset below 20 or past
// the end) is dropped and counted (ST_BADPKT) before any rule sees it, as ipfw's
// pullup_failed does.
//
// Walk: a rule matches when every match instruction (or or-block) of it matches; its
// action part then runs: O_LOG modifiers, then the one action. count goes on with the next
// rule, skipto with the first rule numbered >= its target (always forward: the kernel
// refused anything else), check-state and a keep-state rule's probe jump to the action of
// the rule that made the flow's state. Only the first dynamic lookup of a packet can hit
// (FreeBSD's dyn_dir), so a state's rule can never send the walk round in a loop.
// After the last rule the default rule 65535 decides.

import {
  m_freem, m_copydata, m_gethdr, m_append, m_length, in_cksum, in_pseudo, in6_pseudo, domain_af_api, ticks,
  pfil_head_registered, pfil_add_hook, pfil_remove_hook, PFIL_HEAD_INET, PFIL_HEAD_INET6, PFIL_IN, PFIL_OUT, PFIL_DROPPED,
  kmem_alloc, curvnet, m_copyback, m_pullup, PFIL_CONSUMED,
} from "../../kmod/kapi";
import { Mbuf, MT_DATA } from "../../sys/mbuf";
import { AF_INET6, if_name } from "../../sys/if";
import { IN6API_LOCALIP, IN6API_ERROR, IN6API_OUTPUT } from "../../sys/in6";
import { Args, srcAddr, dstAddr } from "./ip_fw_args";
import {
  insn_op, insn_len, insn_arg, F_OR, F_NOT, O_IP4, O_IP6, O_PROTO, O_IP_SRC_MASK, O_IP_DST_MASK, O_IP_SRC_ME, O_IP_DST_ME,
  O_IP6_SRC_MASK, O_IP6_DST_MASK, O_IP_SRCPORT, O_IP_DSTPORT, O_VIA, O_RECV, O_XMIT, O_IN, O_FRAG, O_TCPFLAGS, O_TCPOPTS,
  O_ESTAB, O_SETUP, O_ICMPTYPE, O_ICMP6TYPE, O_PROBE_STATE, O_KEEP_STATE, O_IPLEN, O_IPTTL, O_IPID, O_ICMPCODE, O_LOG,
  O_ACCEPT, O_DENY, O_REJECT, O_RESET, O_COUNT, O_SKIPTO, O_CHECK_STATE, O_NAT, O_UNREACH6, REJECT_RESET, RL_NEXT, RL_NUM,
  RL_CMDLEN, RL_ACTOFS, RL_CMD, RL_LOGGED, V_RULES, V_DEFACCEPT, V_LOGRING, V_LOGSEQ, VF, FWSTAT_INC, ST_BADPKT,
  ST_DENIED, ST_ACCEPTED, ST_LOGGED, ST_REJECTS, ST_RESETS, ST_NAT, ST_DEFAULT, V_HOOKED,
  PRE_DPORT, RL_IDX, V_INDEX, V_NRULES, V_IXHASH, V_IXHMASK, IX_SHIFT, IX_RULE, IX_PRE, IX_DLO, IX_NEXT, IX_END,
  IX_RUN, O_IP_SRC_LOOKUP, O_IP_DST_LOOKUP, O_DSCP, O_SETDSCP, O_REASS,
} from "./ip_fw_var";
import { table_lookup, TE_VALUE } from "./ip_fw_table";
import { rule_count } from "./ip_fw_rules";
import { dyn_lookup, dyn_update, dyn_install, dyn_rule } from "./ip_fw_dynamic";
import { ipfw_nat } from "./ip_fw_nat";

@external("inet", "in_localip") declare function in_localip(a: u32): bool;
@external("inet", "icmp_error") declare function icmp_error(m: usize, type: u32, code: u32, arg: u32): void;
@external("inet", "ip_reass") declare function ip_reass(m: usize, hlen: u32): usize;
@external("inet", "ip_output") declare function ip_output(m: usize, src: u32, dst: u32, proto: u32, ttl: u32, tos: u32, flags: u32, ifp: usize): i32;

const hbuf = memory.data(64, 8); // the network header (IPv6, or IPv4 split over mbufs)
const ubuf = memory.data(64, 8); // the upper-layer header (TCP with options: 60 bytes)
const rbuf = memory.data(24, 8); // a RST being built

const IPPROTO_ICMP: u32 = 1;
const IPPROTO_TCP: u32 = 6;
const IPPROTO_UDP: u32 = 17;
const IPPROTO_ICMPV6: u32 = 58;
const IPPROTO_SCTP: u32 = 132;
const TH_RST: u32 = 4;
const TH_ACK: u32 = 16;
const TH_SYN: u32 = 2;
const TH_FIN: u32 = 1;

// ---------------------------------------------------------------------------------------
// Facts

/** Copy len bytes at off of chain m to dst: from the first mbuf when they are all there. */
@inline function copyOut(m: usize, off: u32, len: u32, dst: usize): bool {
  const mm = changetype<Mbuf>(m);
  if (<i32>(off + len) <= mm.m_len) {
    // Headers are a few dozen bytes: word moves cost less than memory.copy's call here.
    const src = mm.m_data + off;
    let o: u32 = 0;
    for (; o + 8 <= len; o += 8) store<u64>(dst + o, load<u64>(src + o));
    for (; o < len; o++) store<u8>(dst + o, load<u8>(src + o));
    return true;
  }
  return m_copydata(m, <i32>off, <i32>len, dst);
}

/** The upper-layer header at Args.hlen, avail bytes of it in the packet. false: malformed. */
function parseUlp(m: usize, avail: u32): bool {
  const p = Args.proto;
  let need: u32 = 0;
  if (p == IPPROTO_TCP) need = 20;
  else if (p == IPPROTO_UDP) need = 8;
  else if (p == IPPROTO_SCTP) need = 12;
  else if ((p == IPPROTO_ICMP && Args.af == 4) || (p == IPPROTO_ICMPV6 && Args.af == 6)) need = 4;
  else return true;
  if (avail < need) return false;
  // Read in place when the first mbuf holds the header; TCP's is copied (a RST answering
  // it reads it later, when the packet may be gone).
  const mm = changetype<Mbuf>(m);
  let u = ubuf;
  if (p != IPPROTO_TCP && <i32>(Args.hlen + need) <= mm.m_len) u = mm.m_data + Args.hlen;
  else if (!copyOut(m, Args.hlen, need, ubuf)) return false;
  Args.ulp = true;
  if (need == 4) {
    Args.icmptype = load<u8>(u);
    Args.icmpcode = load<u8>(u, 1);
    return true;
  }
  Args.sport = <u32>bswap<u16>(load<u16>(u));
  Args.dport = <u32>bswap<u16>(load<u16>(u, 2));
  if (p != IPPROTO_TCP) return true;
  Args.tcpflags = load<u8>(ubuf, 13);
  const thoff = (<u32>load<u8>(ubuf, 12) >> 4) << 2;
  if (thoff < 20 || thoff > avail) return false;
  if (thoff > 20) {
    if (!copyOut(m, Args.hlen + 20, thoff - 20, ubuf + 20)) return false;
    // Options (RFC 9293 3.1), walked with bounds: kinds 0 end, 1 nop, else kind, length.
    let i: u32 = 20;
    while (i < thoff) {
      const kind = <u32>load<u8>(ubuf + i);
      if (kind == 0) break;
      if (kind == 1) {
        i++;
        continue;
      }
      if (i + 1 >= thoff) break;
      const ol = <u32>load<u8>(ubuf + i + 1);
      if (ol < 2 || i + ol > thoff) break;
      if (kind == 2) Args.tcpopts |= 1;
      else if (kind == 3) Args.tcpopts |= 2;
      else if (kind == 4 || kind == 5) Args.tcpopts |= 4;
      else if (kind == 8) Args.tcpopts |= 8;
      else if (kind >= 11 && kind <= 13) Args.tcpopts |= 16;
      i += ol;
    }
  }
  return true;
}

function clearArgs(): void {
  Args.ulp = false;
  Args.nonfirst = false;
  Args.frag4 = false;
  Args.sport = Args.dport = Args.tcpflags = Args.tcpopts = Args.icmptype = Args.icmpcode = Args.ipid = Args.dscp = 0;
}

/** IPv4 facts. false: malformed. */
function parse4(m: usize): bool {
  clearArgs();
  const mm = changetype<Mbuf>(m);
  const plen = <u32>mm.ph_len;
  if (plen < 20) return false;
  // In place when the first mbuf holds the header (every field is read here, once).
  let ip = mm.m_data;
  if (mm.m_len < 20) {
    ip = hbuf;
    if (!copyOut(m, 0, 20, ip)) return false;
  }
  const vhl = <u32>load<u8>(ip);
  const hlen = (vhl & 15) << 2;
  if ((vhl >> 4) != 4 || hlen < 20 || hlen > plen) return false;
  const iplen = <u32>bswap<u16>(load<u16>(ip, 2));
  if (iplen < hlen || iplen > plen) return false;
  Args.af = 4;
  Args.iplen = iplen;
  Args.plen = plen;
  Args.hlen = hlen;
  Args.ttl = load<u8>(ip, 8);
  Args.proto = load<u8>(ip, 9);
  Args.ipid = <u32>bswap<u16>(load<u16>(ip, 4));
  const offw = <u32>bswap<u16>(load<u16>(ip, 6));
  Args.nonfirst = (offw & 0x1fff) != 0;
  Args.frag4 = (offw & 0x3fff) != 0; // MF or an offset
  Args.dscp = <u32>load<u8>(ip, 1) >> 2;
  store<u64>(srcAddr, <u64>load<u32>(ip, 12));
  store<u64>(srcAddr, 0, 8);
  store<u64>(dstAddr, <u64>load<u32>(ip, 16));
  store<u64>(dstAddr, 0, 8);
  if (Args.nonfirst) return true;
  return parseUlp(m, iplen - hlen);
}

/** IPv6 facts: the extension headers walked to the upper layer. false: malformed. */
function parse6(m: usize): bool {
  clearArgs();
  const plen = <u32>changetype<Mbuf>(m).ph_len;
  if (plen < 40 || !copyOut(m, 0, 40, hbuf)) return false;
  if ((load<u8>(hbuf) >> 4) != 6) return false;
  const iplen: u32 = 40 + <u32>bswap<u16>(load<u16>(hbuf, 4));
  if (iplen > plen) return false;
  Args.af = 6;
  Args.iplen = iplen;
  Args.plen = plen;
  Args.ttl = load<u8>(hbuf, 7);
  // The traffic class straddles bytes 0 and 1; its top six bits are the code point.
  Args.dscp = ((<u32>load<u8>(hbuf) & 15) << 2) | (<u32>load<u8>(hbuf, 1) >> 6);
  memory.copy(srcAddr, hbuf + 8, 16);
  memory.copy(dstAddr, hbuf + 24, 16);
  let nxt = <u32>load<u8>(hbuf, 6);
  let off: u32 = 40;
  for (let n = 0; n < 8; n++) {
    if (nxt == 0 || nxt == 43 || nxt == 60 || nxt == 51) {
      if (off + 8 > iplen || !copyOut(m, off, 2, ubuf)) return false;
      const l = <u32>load<u8>(ubuf, 1);
      const hl = nxt == 51 ? (l + 2) << 2 : (l + 1) << 3;
      nxt = load<u8>(ubuf);
      off += hl;
      if (off > iplen) return false;
    } else if (nxt == 44) {
      if (off + 8 > iplen || !copyOut(m, off, 8, ubuf)) return false;
      nxt = load<u8>(ubuf);
      off += 8;
      if ((bswap<u16>(load<u16>(ubuf, 2)) & 0xfff8) != 0) {
        Args.nonfirst = true;
        break;
      }
    } else {
      break;
    }
  }
  Args.proto = nxt;
  Args.hlen = off;
  if (Args.nonfirst) return true;
  return parseUlp(m, iplen - off);
}

// ---------------------------------------------------------------------------------------
// Matching

/** The interface name pattern at p (16 bytes): all zero = any; a trailing '*' = prefix. */
function ifmatch(p: usize, ifp: usize): bool {
  if (ifp == 0) return false;
  if (load<u64>(p) == 0 && load<u64>(p, 8) == 0) return true;
  const name = if_name(ifp);
  for (let j: u32 = 0; j < 16; j++) {
    const c = load<u8>(p + j);
    if (c == 0) return load<u8>(name + j) == 0;
    if (c == 0x2a && (j == 15 || load<u8>(p + j + 1) == 0)) return true;
    if (load<u8>(name + j) != c) return false;
  }
  return true;
}

@inline function inRanges(p: usize, n: u32, v: u32): bool {
  for (let j: u32 = 0; j < n; j++) {
    const r = load<u32>(p + (j << 2));
    if (v >= (r & 0xffff) && v <= (r >> 16)) return true;
  }
  return false;
}

@inline function bit(p: usize, v: u32): bool {
  return v < 256 && (load<u32>(p + ((v >> 5) << 2)) & (1 << (v & 31))) != 0;
}

function isMe(a: usize): bool {
  if (Args.af == 4) return in_localip(bswap<u32>(load<u32>(a)));
  const api = domain_af_api(AF_INET6);
  return api != 0 && call_indirect<bool>(load<u32>(api + IN6API_LOCALIP), a, Args.ifp);
}

@inline function hasPorts(): bool {
  const p = Args.proto;
  return Args.ulp && (p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_SCTP);
}

let probeHit: usize = 0; // the state O_PROBE_STATE found (its rule's action runs)
let dynLooked = false; // this packet's one dynamic lookup is done
let dynFound: usize = 0; // ... and the flow's state it found or installed (0: none)
let keepFail = false; // keep-state could not make a state: deny

/** One match instruction (header h at c, in rule r), before F_NOT. */
function match(h: u32, c: usize, r: usize): bool {
  const arg = insn_arg(h);
  switch (insn_op(h)) {
    case O_IP4: return Args.af == 4;
    case O_IP6: return Args.af == 6;
    case O_PROTO: return Args.proto == arg;
    case O_IP_SRC_MASK: case O_IP_DST_MASK: {
      if (Args.af != 4) return false;
      const a = load<u32>(insn_op(h) == O_IP_SRC_MASK ? srcAddr : dstAddr);
      for (let j: u32 = 0; j < arg; j++) {
        if ((a & load<u32>(c + 8 + (j << 3))) == load<u32>(c + 4 + (j << 3))) return true;
      }
      return false;
    }
    case O_IP6_SRC_MASK: case O_IP6_DST_MASK: {
      if (Args.af != 6) return false;
      const a = insn_op(h) == O_IP6_SRC_MASK ? srcAddr : dstAddr;
      for (let j: u32 = 0; j < arg; j++) {
        const g = c + 4 + j * 32;
        let ok = true;
        for (let w: u32 = 0; w < 4 && ok; w++) ok = (load<u32>(a + (w << 2)) & load<u32>(g + 16 + (w << 2))) == load<u32>(g + (w << 2));
        if (ok) return true;
      }
      return false;
    }
    case O_IP_SRC_LOOKUP: case O_IP_DST_LOOKUP: {
      // Longest prefix in table arg; table(N,value) also wants that entry's value (FreeBSD).
      const e = table_lookup(arg, Args.af, insn_op(h) == O_IP_SRC_LOOKUP ? srcAddr : dstAddr);
      return e != 0 && (insn_len(h) == 1 || load<u32>(e + TE_VALUE) == load<u32>(c + 4));
    }
    case O_IP_SRC_ME: return isMe(srcAddr);
    case O_IP_DST_ME: return isMe(dstAddr);
    case O_IP_SRCPORT: return hasPorts() && inRanges(c + 4, arg, Args.sport);
    case O_IP_DSTPORT: return hasPorts() && inRanges(c + 4, arg, Args.dport);
    case O_VIA: return ifmatch(c + 4, Args.ifp);
    case O_RECV: return ifmatch(c + 4, (Args.dir & PFIL_IN) != 0 ? Args.ifp : changetype<Mbuf>(Args.m).ph_rcvif);
    case O_XMIT: return (Args.dir & PFIL_OUT) != 0 && ifmatch(c + 4, Args.ifp);
    case O_IN: return (Args.dir & PFIL_IN) != 0;
    case O_FRAG: return Args.nonfirst;
    case O_TCPFLAGS: {
      if (Args.proto != IPPROTO_TCP || !Args.ulp) return false;
      const set = arg & 0xff;
      return (Args.tcpflags & set) == set && (Args.tcpflags & (arg >> 8)) == 0;
    }
    case O_TCPOPTS: {
      if (Args.proto != IPPROTO_TCP || !Args.ulp) return false;
      const set = arg & 0xff;
      return (Args.tcpopts & set) == set && (Args.tcpopts & (arg >> 8)) == 0;
    }
    case O_ESTAB: return Args.proto == IPPROTO_TCP && Args.ulp && (Args.tcpflags & (TH_RST | TH_ACK)) != 0;
    case O_SETUP: return Args.proto == IPPROTO_TCP && Args.ulp && (Args.tcpflags & (TH_SYN | TH_ACK)) == TH_SYN;
    case O_ICMPTYPE: return Args.af == 4 && Args.proto == IPPROTO_ICMP && Args.ulp && bit(c + 4, Args.icmptype);
    case O_ICMP6TYPE: return Args.af == 6 && Args.proto == IPPROTO_ICMPV6 && Args.ulp && bit(c + 4, Args.icmptype);
    case O_ICMPCODE: {
      const icmp = (Args.af == 4 && Args.proto == IPPROTO_ICMP) || (Args.af == 6 && Args.proto == IPPROTO_ICMPV6);
      return icmp && Args.ulp && bit(c + 4, Args.icmpcode);
    }
    case O_IPLEN: return inRanges(c + 4, arg, Args.iplen);
    case O_IPTTL: return inRanges(c + 4, arg, Args.ttl);
    case O_IPID: return Args.af == 4 && inRanges(c + 4, arg, Args.ipid);
    case O_DSCP: return (load<u32>(c + 4 + ((Args.dscp >> 5) << 2)) & (1 << (Args.dscp & 31))) != 0;
    case O_PROBE_STATE: {
      // FreeBSD: found, the walk jumps to the action of the state's rule; not found (or
      // looked up already), the rule goes on with its next instruction.
      if (dynLooked) return true;
      dynLooked = true;
      const d = dyn_lookup();
      dynFound = d;
      if (d != 0) {
        dyn_update(d);
        probeHit = d;
      }
      return true;
    }
    case O_KEEP_STATE: {
      // FreeBSD's install looks for the flow's state first. A walk that has looked already
      // and found one (a check-state whose state's action let the walk go on, e.g. count)
      // neither installs a second state nor counts the packet twice.
      if (dynLooked) {
        if (dynFound == 0) {
          dynFound = dyn_install(r);
          if (dynFound == 0) keepFail = true;
        }
        return true;
      }
      dynLooked = true;
      const d = dyn_lookup();
      dynFound = d;
      if (d != 0) dyn_update(d);
      else {
        dynFound = dyn_install(r);
        if (dynFound == 0) keepFail = true;
      }
      return true;
    }
  }
  return false; // O_LAYER2: no layer-2 hook
}

// ---------------------------------------------------------------------------------------
// Actions

/** Log rule r's match (op: its action) to the vnet's ring (a kmem page, made on first use). */
function dolog(r: usize, limit: u32, op: u32): void {
  if (limit != 0) {
    const n = load<u32>(r + RL_LOGGED);
    if (n >= limit) return;
    store<u32>(r + RL_LOGGED, n + 1);
  }
  let ring = load<usize>(VF(V_LOGRING));
  if (ring == 0) {
    ring = kmem_alloc(1, curvnet());
    if (ring == 0) return;
    store<usize>(VF(V_LOGRING), ring);
  }
  const seq = load<u32>(VF(V_LOGSEQ));
  const o = ring + ((seq & (LOG_RING - 1)) << 6);
  store<u32>(o, seq);
  store<u32>(o, <u32>(ticks() / 1000), 4);
  store<u32>(o, <u32>load<u16>(r + RL_NUM) | (op << 16) | ((Args.dir & 7) << 24), 8);
  store<u32>(o, Args.af | (Args.proto << 8) | (Args.tcpflags << 16), 12);
  store<u32>(o, Args.sport | (Args.dport << 16), 16);
  store<u32>(o, Args.plen, 20);
  memory.copy(o + 24, srcAddr, 16);
  memory.copy(o + 40, dstAddr, 16);
  store<u64>(o, 0, 56);
  store<u32>(VF(V_LOGSEQ), seq + 1);
  FWSTAT_INC(ST_LOGGED);
}

/** Records in the log ring (a 4 KiB page of 64-byte records). */
export const LOG_RING: u32 = 64;

/** ICMPv6 destination unreachable code for an IPv4 reject code (FreeBSD's mapping). */
function code6(c: u32): u32 {
  if (c == 3) return 4; // port
  if (c == 1) return 3; // host: address unreachable
  if (c == 9 || c == 10 || c == 13) return 1; // prohibited
  return 0; // no route
}

/** ICMP (or ICMPv6) unreachable about m, which is consumed. */
function sendUnreach(m: usize, code: u32, v6: bool): void {
  FWSTAT_INC(ST_REJECTS);
  if (Args.af == 4) {
    icmp_error(m, 3, code, 0);
    return;
  }
  const api = domain_af_api(AF_INET6);
  if (api == 0) {
    m_freem(m);
    return;
  }
  call_indirect<void>(load<u32>(api + IN6API_ERROR), m, 1, v6 ? code : code6(code), 0);
}

/** A TCP RST answering the current packet (RFC 9293 3.10.7.1), if it is TCP and not a RST. */
function sendReset(): void {
  if (Args.proto != IPPROTO_TCP || !Args.ulp || (Args.tcpflags & TH_RST) != 0) return;
  const seq = bswap<u32>(load<u32>(ubuf, 4));
  const ack = bswap<u32>(load<u32>(ubuf, 8));
  const thoff = (<u32>load<u8>(ubuf, 12) >> 4) << 2;
  memory.fill(rbuf, 0, 20);
  store<u16>(rbuf, bswap<u16>(<u16>Args.dport));
  store<u16>(rbuf, bswap<u16>(<u16>Args.sport), 2);
  if ((Args.tcpflags & TH_ACK) != 0) {
    store<u32>(rbuf, bswap<u32>(ack), 4);
    store<u8>(rbuf, <u8>TH_RST, 13);
  } else {
    let seglen = Args.iplen - Args.hlen - thoff;
    if ((Args.tcpflags & TH_SYN) != 0) seglen++;
    if ((Args.tcpflags & TH_FIN) != 0) seglen++;
    store<u32>(rbuf, bswap<u32>(seq + seglen), 8);
    store<u8>(rbuf, <u8>(TH_RST | TH_ACK), 13);
  }
  store<u8>(rbuf, 5 << 4, 12);
  const n = m_gethdr(MT_DATA);
  if (n == 0) return;
  if (!m_append(n, 20, rbuf)) {
    m_freem(n);
    return;
  }
  FWSTAT_INC(ST_RESETS);
  if (Args.af == 4) {
    const src = bswap<u32>(load<u32>(dstAddr));
    const dst = bswap<u32>(load<u32>(srcAddr));
    const sum = in_cksum(n, 0, 20, in_pseudo(src, dst, IPPROTO_TCP, 20));
    store<u16>(changetype<Mbuf>(n).m_data + 16, bswap<u16>(<u16>sum));
    ip_output(n, src, dst, IPPROTO_TCP, 64, 0, 0, 0);
    return;
  }
  const api = domain_af_api(AF_INET6);
  if (api == 0) {
    m_freem(n);
    return;
  }
  // The addresses are copied first: output may run this firewall again and reuse srcAddr.
  memory.copy(rbuf, dstAddr, 16); // (the TCP header is in n now)
  memory.copy(hbuf, srcAddr, 16);
  const sum = in_cksum(n, 0, 20, in6_pseudo(rbuf, hbuf, IPPROTO_TCP, 20));
  store<u16>(changetype<Mbuf>(n).m_data + 16, bswap<u16>(<u16>sum));
  call_indirect<i32>(load<u32>(api + IN6API_OUTPUT), n, rbuf, hbuf, IPPROTO_TCP, 64, 0, Args.ifp);
}

/**
 * setdscp: the DS field's code point set to code, its ECN bits kept (RFC 3168 keeps them
 * apart from DSCP). IPv4's header checksum is moved by the change alone (RFC 1624 eqn. 3:
 * HC' = ~(~HC + ~m + m'), m the header's first 16-bit word); IPv6 has none. The bytes are
 * read and written through the chain, so a header split over mbufs is handled the same.
 */
function setdscp(m: usize, code: u32): void {
  if (Args.af == 4) {
    if (!m_copydata(m, 0, 12, rbuf)) return; // parse4 saw 20 bytes: cannot fail
    const old = (<u32>load<u8>(rbuf) << 8) | <u32>load<u8>(rbuf, 1);
    const tos = (code << 2) | (<u32>load<u8>(rbuf, 1) & 3);
    const nw = (old & 0xff00) | tos;
    const hc = (<u32>load<u8>(rbuf, 10) << 8) | <u32>load<u8>(rbuf, 11);
    let s = (~hc & 0xffff) + (~old & 0xffff) + nw;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    const sum = ~s & 0xffff;
    store<u8>(rbuf, <u8>tos, 1);
    store<u8>(rbuf, <u8>(sum >> 8), 10);
    store<u8>(rbuf, <u8>sum, 11);
    m_copyback(m, 1, 1, rbuf + 1);
    m_copyback(m, 10, 2, rbuf + 10);
  } else {
    if (!m_copydata(m, 0, 2, rbuf)) return;
    const b0 = <u32>load<u8>(rbuf);
    const b1 = <u32>load<u8>(rbuf, 1);
    store<u8>(rbuf, <u8>((b0 & 0xf0) | (code >> 2)));
    store<u8>(rbuf, <u8>(((code & 3) << 6) | (b1 & 0x3f)), 1);
    m_copyback(m, 0, 2, rbuf);
  }
  Args.dscp = code; // later rules see the new code point, as ipfw reads the header again
}

@inline function drop(m: usize): usize {
  FWSTAT_INC(ST_DENIED);
  m_freem(m);
  return PFIL_DROPPED;
}

/** The index of the first rule after index a numbered >= num (n: none). */
function skipTo(ix: usize, n: u32, a: u32, num: u32): u32 {
  let j = a + 1;
  while (j < n && <u32>load<u16>(<usize>load<u32>(ix + (<usize>j << IX_SHIFT)) + RL_NUM) < num) j++;
  return j;
}

/**
 * Entry i is a run member the packet failed: the first later member of its run with the
 * packet's key pk ((protocol + 1) << 16 | dport, 0 when the packet has no ports), or the
 * end of the run.
 */
function runFind(ix: usize, i: u32, pk: u32): u32 {
  const end = <u32>load<u16>(ix + (<usize>i << IX_SHIFT) + IX_END);
  if (pk == 0) return end;
  const tab = load<usize>(VF(V_IXHASH));
  const mask = load<u32>(VF(V_IXHMASK));
  let h = pk ^ (end * 0x9e3779b1);
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h &= mask;
  while (true) {
    const sl = tab + (<usize>h << 3);
    const w0 = load<u32>(sl);
    if (w0 == 0) return end;
    const w1 = load<u32>(sl + 4);
    if (w0 == pk && (w1 >> 16) == end) {
      let j = w1 & 0xffff;
      while (j < i) j = <u32>load<u16>(ix + (<usize>j << IX_SHIFT) + IX_NEXT);
      return j;
    }
    h = (h + 1) & mask;
  }
}

/**
 * The rules over the packet m from index `from`; Args are filled. looked: the packet's one
 * dynamic lookup is done (and missed). Returns m to pass, or PFIL_DROPPED.
 */
function ipfw_chk(m: usize, from: u32, looked: bool): usize {
  probeHit = 0;
  dynLooked = looked;
  dynFound = 0;
  keepFail = false;
  // The walk goes over the index (ip_fw_var.ts IX_*), position by position.
  const ix = load<usize>(VF(V_INDEX));
  const nr = load<u32>(VF(V_NRULES));
  if (from == 0 && !looked && nr != 0) {
    // The stateful fast path: the first rule is a bare check-state (no match part, no log:
    // its first action instruction is check-state), so the walk would look the flow up
    // before anything else. A hit whose state's rule's action is a bare allow ends here, as
    // the walk would end it (the state refreshed, its rule counted, accepted), without the
    // walk's interpreting; any other hit goes the walk's way (it looks up again: the same
    // state). A miss goes on with the walk, the lookup done (only the first can hit).
    const r0 = <usize>load<u32>(ix + IX_RULE);
    if (load<u16>(r0 + RL_ACTOFS) == 0 && insn_op(load<u32>(r0 + RL_CMD)) == O_CHECK_STATE) {
      const d = dyn_lookup();
      if (d == 0) {
        dynLooked = true;
      } else {
        const ar = dyn_rule(d);
        if (insn_op(load<u32>(ar + RL_CMD + (<usize>load<u16>(ar + RL_ACTOFS) << 2))) == O_ACCEPT) {
          dyn_update(d);
          rule_count(ar, Args.plen);
          FWSTAT_INC(ST_ACCEPTED);
          return m;
        }
      }
    }
  }
  const proto1 = Args.proto + 1;
  const ports = hasPorts();
  const dport = Args.dport;
  const pk = ports ? (proto1 << 16) | dport : 0;
  let i: u32 = from;
  while (i < nr) {
    const e = ix + (<usize>i << IX_SHIFT);
    // The prefilter: a rule that cannot match this packet is passed with a few compares,
    // and with it every rule its skip step or run says cannot match either.
    const pre = load<u32>(e + IX_PRE); // protocol + 1 | flags << 16
    const pp = pre & 0xffff;
    if (pp != 0 && pp != proto1) {
      i = (pre & (IX_RUN << 16)) != 0 ? runFind(ix, i, pk) : <u32>load<u16>(e + IX_NEXT);
      continue;
    }
    if ((pre & (PRE_DPORT << 16)) != 0) {
      const rg = load<u32>(e + IX_DLO); // lo | hi << 16
      if (!ports || dport < (rg & 0xffff) || dport > (rg >> 16)) {
        i = (pre & (IX_RUN << 16)) != 0 ? runFind(ix, i, pk) : i + 1;
        continue;
      }
    }
    const r = <usize>load<u32>(e + IX_RULE);
    const cmd = r + RL_CMD;
    const actofs = <u32>load<u16>(r + RL_ACTOFS);
    let ci: u32 = 0;
    let ok = true;
    while (ci < actofs) {
      let blk = false;
      while (true) {
        const c = cmd + (ci << 2);
        const h = load<u32>(c);
        if (!blk) {
          // The instructions of most rules, decided here without a call (match() decides
          // the same): a protocol, one IPv4 prefix, one port range.
          const op = insn_op(h);
          const arg = insn_arg(h);
          let mt: bool;
          if (op == O_PROTO) mt = Args.proto == arg;
          else if ((op == O_IP_SRC_MASK || op == O_IP_DST_MASK) && arg == 1) mt = Args.af == 4 && (load<u32>(op == O_IP_SRC_MASK ? srcAddr : dstAddr) & load<u32>(c, 8)) == load<u32>(c, 4);
          else if ((op == O_IP_DSTPORT || op == O_IP_SRCPORT) && arg == 1) {
            const v = op == O_IP_DSTPORT ? dport : Args.sport;
            const rg = load<u32>(c, 4);
            mt = ports && v >= (rg & 0xffff) && v <= (rg >> 16);
          } else mt = match(h, c, r);
          if ((h & F_NOT) != 0) mt = !mt;
          blk = mt;
        }
        ci += insn_len(h);
        if ((h & F_OR) == 0 || ci >= actofs) break;
      }
      if (!blk) {
        ok = false;
        break;
      }
      if (probeHit != 0) break;
    }
    if (!ok) {
      // A run member the packet got this far on has the packet's key: its next member
      // with that key is the next rule that can match.
      i = (pre & (IX_RUN << 16)) != 0 ? <u32>load<u16>(e + IX_NEXT) : i + 1;
      continue;
    }
    if (keepFail) {
      // FreeBSD: a keep-state that cannot install its state denies the packet.
      rule_count(r, Args.plen);
      return drop(m);
    }
    // The action part of r, or of the rule whose state the probe found.
    let ar = r;
    if (probeHit != 0) {
      ar = dyn_rule(probeHit);
      probeHit = 0;
    }
    let next: u32 = nr;
    let again = true;
    while (again) {
      again = false;
      const acmd = ar + RL_CMD;
      const n = <u32>load<u16>(ar + RL_CMDLEN);
      let j = <u32>load<u16>(ar + RL_ACTOFS);
      for (; j < n; j++) {
        const h = load<u32>(acmd + (j << 2));
        const op = insn_op(h);
        const arg = insn_arg(h);
        if (op == O_LOG) {
          const fin = insn_op(load<u32>(acmd + ((n - 1) << 2)));
          dolog(ar, arg, fin);
          continue;
        }
        switch (op) {
          case O_ACCEPT:
            rule_count(ar, Args.plen);
            FWSTAT_INC(ST_ACCEPTED);
            return m;
          case O_DENY:
            rule_count(ar, Args.plen);
            return drop(m);
          case O_REJECT:
            rule_count(ar, Args.plen);
            FWSTAT_INC(ST_DENIED);
            if (arg == REJECT_RESET) {
              sendReset();
              m_freem(m);
            } else {
              sendUnreach(m, arg, false);
            }
            return PFIL_DROPPED;
          case O_UNREACH6:
            rule_count(ar, Args.plen);
            if (Args.af != 6) return drop(m);
            FWSTAT_INC(ST_DENIED);
            sendUnreach(m, arg, true);
            return PFIL_DROPPED;
          case O_RESET:
            rule_count(ar, Args.plen);
            FWSTAT_INC(ST_DENIED);
            sendReset();
            m_freem(m);
            return PFIL_DROPPED;
          case O_NAT: {
            // FreeBSD's one_pass (the default): a packet through nat is accepted.
            rule_count(ar, Args.plen);
            const t = ipfw_nat(m, arg);
            if (t == 0) return PFIL_DROPPED; // counted there
            FWSTAT_INC(ST_ACCEPTED);
            return t;
          }
          case O_COUNT:
            rule_count(ar, Args.plen);
            next = <u32>load<u16>(ar + RL_IDX) + 1;
            break;
          case O_SETDSCP:
            // ipfw: the packet goes on with the next rule whatever one_pass says.
            rule_count(ar, Args.plen);
            setdscp(m, arg);
            next = <u32>load<u16>(ar + RL_IDX) + 1;
            break;
          case O_REASS: {
            // ipfw's reass (IP_FW_REASS in ipfw_check_packet): a fragment goes to IPv4
            // reassembly; while the datagram is incomplete the fragment is kept there (or
            // dropped and counted by it) and the walk ends; the fragment completing it
            // brings the whole datagram, whose walk starts again after this rule, with its
            // facts read afresh. Anything else (IPv6, an unfragmented packet) goes on with
            // the next rule. one_pass is not consulted (FreeBSD's caller resumes always).
            rule_count(ar, Args.plen);
            next = <u32>load<u16>(ar + RL_IDX) + 1;
            if (Args.af != 4 || !Args.frag4) break;
            if (changetype<Mbuf>(m).m_len < <i32>Args.hlen) {
              m = m_pullup(m, <i32>Args.hlen);
              if (m == 0) {
                FWSTAT_INC(ST_BADPKT);
                return PFIL_DROPPED;
              }
            }
            const whole = ip_reass(m, Args.hlen);
            if (whole == 0) return PFIL_CONSUMED;
            Args.m = whole;
            if (!parse4(whole)) {
              FWSTAT_INC(ST_BADPKT);
              m_freem(whole);
              return PFIL_DROPPED;
            }
            return ipfw_chk(whole, next, false);
          }
          case O_SKIPTO:
            rule_count(ar, Args.plen);
            next = skipTo(ix, nr, <u32>load<u16>(ar + RL_IDX), arg);
            break;
          case O_CHECK_STATE: {
            next = <u32>load<u16>(ar + RL_IDX) + 1;
            if (!dynLooked) {
              dynLooked = true;
              const d = dyn_lookup();
              dynFound = d;
              if (d != 0) {
                dyn_update(d);
                ar = dyn_rule(d);
                again = true;
              }
            }
            break;
          }
        }
        break;
      }
    }
    i = next;
  }
  // The default rule.
  rule_count(0, Args.plen);
  FWSTAT_INC(ST_DEFAULT);
  if (load<u32>(VF(V_DEFACCEPT)) != 0) {
    FWSTAT_INC(ST_ACCEPTED);
    return m;
  }
  return drop(m);
}

/** The pfil hook on inet and inet6, in and out: arg is the family (4 or 6). */
export function ipfw_hook(m: usize, ifp: usize, dir: u32, arg: usize): usize {
  if (load<usize>(VF(V_RULES)) == 0) {
    // No rule but the default: it needs no facts. The packet is counted on 65535 and passed
    // or dropped unparsed (a malformed one is the stack's to drop, as without ipfw).
    rule_count(0, <u32>changetype<Mbuf>(m).ph_len);
    FWSTAT_INC(ST_DEFAULT);
    if (load<u32>(VF(V_DEFACCEPT)) != 0) {
      FWSTAT_INC(ST_ACCEPTED);
      return m;
    }
    return drop(m);
  }
  Args.m = m;
  Args.ifp = ifp;
  Args.dir = dir;
  const ok = arg == 4 ? parse4(m) : parse6(m);
  if (!ok) {
    FWSTAT_INC(ST_BADPKT);
    m_freem(m);
    return PFIL_DROPPED;
  }
  return ipfw_chk(m, 0, false);
}

/**
 * A vnet is hooked exactly while its firewall can refuse something: it has a rule, or its
 * default denies. An empty firewall that accepts costs its packets nothing, not even the
 * call (pfil_empty_overhead_pct); rule 65535 then counts nothing either. willHaveRules: the
 * caller is about to add one. 0 or -errno (hooking failed: the vnet's pfil limit).
 */
export function ipfw_sync_hooks(willHaveRules: bool): i32 {
  const want = willHaveRules || load<usize>(VF(V_RULES)) != 0 || load<u32>(VF(V_DEFACCEPT)) == 0;
  const have = load<u32>(VF(V_HOOKED)) != 0;
  if (want && !have) return ipfw_hook_vnet();
  if (!want && have) ipfw_unhook_vnet();
  return 0;
}

/** VNET_SYSINIT part: hook the heads whose owners are loaded. 0 or -errno. */
export function ipfw_hook_vnet(): i32 {
  let bits: u32 = 0;
  let r: i32 = 0;
  if (pfil_head_registered(PFIL_HEAD_INET)) {
    r = pfil_add_hook(PFIL_HEAD_INET, PFIL_IN, ipfw_hook.index, 4, 0);
    if (r == 0) r = pfil_add_hook(PFIL_HEAD_INET, PFIL_OUT, ipfw_hook.index, 4, 0);
    if (r == 0) bits |= 1;
  }
  if (r == 0 && pfil_head_registered(PFIL_HEAD_INET6)) {
    r = pfil_add_hook(PFIL_HEAD_INET6, PFIL_IN, ipfw_hook.index, 6, 0);
    if (r == 0) r = pfil_add_hook(PFIL_HEAD_INET6, PFIL_OUT, ipfw_hook.index, 6, 0);
    if (r == 0) bits |= 2;
  }
  store<u32>(VF(V_HOOKED), bits);
  if (r != 0) ipfw_unhook_vnet();
  return r;
}

export function ipfw_unhook_vnet(): void {
  // Removing what is not there is harmless (ENOENT): a half-made hook goes too.
  pfil_remove_hook(PFIL_HEAD_INET, PFIL_IN, ipfw_hook.index, 4);
  pfil_remove_hook(PFIL_HEAD_INET, PFIL_OUT, ipfw_hook.index, 4);
  pfil_remove_hook(PFIL_HEAD_INET6, PFIL_IN, ipfw_hook.index, 6);
  pfil_remove_hook(PFIL_HEAD_INET6, PFIL_OUT, ipfw_hook.index, 6);
  store<u32>(VF(V_HOOKED), 0);
}

export { m_length, RL_CMDLEN, O_DENY, O_ACCEPT };
