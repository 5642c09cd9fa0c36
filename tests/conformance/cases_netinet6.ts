// The registry's entries for FreeBSD's tests/sys/netinet6 (besides frag6, which cases.ts
// lists): one per atf test case, named `<file>__<case>` (the file without .sh), as
// ip_reass__* are. Tests are tests/conformance/netinet6_*.test.ts; docs/conformance.md
// has the table ("## tests/sys/netinet6").
import type { ConformanceCase } from "./cases.js";

const D = "tests/sys/netinet6";
const c = (file: string, name: string, summary: string, extra: Partial<ConformanceCase> = {}): ConformanceCase => ({
  id: `${file}__${name}`, source: `${D}/${file}.sh`, status: "applicable", summary, ...extra,
});

const NO_LL127 = "wavnet's link-local addresses are fe80::/64 only and every Ethernet interface gets one when it comes up (no -auto_linklocal, no /127 link-local; docs/inet6.md): the case's set-up cannot be made";
const NO_MANUAL_LIFETIMES = "addresses configured by hand have no lifetimes in wavnet (no ifconfig pltime/vltime) and it has no prefix list entries for them (FreeBSD makes one per manual address): only SLAAC addresses age (docs/slaac.md)";

export const CASES_NETINET6: readonly ConformanceCase[] = [
  c("exthdr", "exthdr", "UDP and TCP behind hop-by-hop, routing (type 0, segments left 0), atomic fragment and destination options headers: port unreachable / RST each; hop-by-hop after destination options draws no parameter problem code 0 (it is code 1)", { source: `${D}/exthdr.sh (+ exthdr.py)` }),

  c("forward6", "fwd_ip6_gu_icmp_iface_fast_success", "net.inet6.ip6.forwarding=1: an echo request to an on-link global address is forwarded back out the interface it came in on; '1 packet forwarded'"),
  c("forward6", "fwd_ip6_gu_icmp_gw_gu_fast_success", "forwarding by a host route via a global gateway: forwarded to the gateway's MAC, '1 packet forwarded'"),
  c("forward6", "fwd_ip6_gu_icmp_gw_ll_fast_success", "forwarding by a host route via a link-local gateway (fe80::...%if): forwarded, '1 packet forwarded'"),
  c("forward6", "fwd_ip6_gu_icmp_iface_slow_success", "as iface_fast with redirects left on (FreeBSD's slow path): forwarded, '1 packet forwarded'"),
  c("forward6", "fwd_ip6_gu_icmp_gw_gu_slow_success", "as gw_gu_fast with redirects left on: forwarded, '1 packet forwarded'"),
  c("forward6", "fwd_ip6_gu_icmp_gw_ll_slow_success", "as gw_ll_fast with redirects left on: forwarded, '1 packet forwarded'"),

  c("output6", "output6_tcp_setup_success", "a TCP connection between two jails over IPv6 carries its text to the listener"),
  c("output6", "output6_udp_setup_success", "a UDP datagram between two jails over IPv6 reaches the bound socket"),
  c("output6", "output6_raw_success", "ping -6 between two jails: 1 transmitted, 1 received"),
  c("output6", "output6_tcp_flowid_mpath_success", "TCP connections balanced over two equal routes (multipath)"),
  c("output6", "output6_udp_flowid_mpath_success", "UDP datagrams balanced over two equal routes (multipath)"),
  c("output6", "output6_raw_flowid_mpath_success", "echo requests balanced over two equal routes (multipath)"),

  c("lpm6", "lpm6_test1_success", "two host routes via link-local gateways on two epairs: each /128 goes out its own interface (20 pings each)"),
  c("lpm6", "lpm6_test2_success", "a /126 via one epair and a /127 inside it via the other: the longer prefix wins, the rest of the /126 takes the other"),

  c("ndp", "ndp_add_gu_success", "ndp -s 2001:db8::2 90:10:00:01:02:03: listed with that MAC on the interface, permanent"),
  c("ndp", "ndp_del_gu_success", "a ping to an absent neighbour leaves an entry; ndp -d deletes it"),
  c("ndp", "ndp_slaac_default_route", "a router advertisement installs a default route via the router's link-local address, again after route flush"),
  c("ndp", "ndp_prefix_len_mismatch", "a router advertisement on an interface with a /127 link-local address still autoconfigures a /64 address", { status: "not-applicable", reason: NO_LL127 }),
  c("ndp", "ndp_prefix_lifetime", "an autoconfigured address is deprecated after its preferred lifetime and goes after its valid lifetime"),
  c("ndp", "ndp_prefix_lifetime_extend", "ifconfig pltime/vltime extend a prefix's lifetimes and a shorter second address does not shorten them", { status: "not-applicable", reason: NO_MANUAL_LIFETIMES }),
  c("ndp", "ndp_grand_linklayer_event", "a changed MAC is announced by unsolicited neighbour advertisements (GRAND), the global address a second after the link-local one; the peer's entry follows"),

  // netinet/redirect.sh has a case of the same name: this one's id says its folder.
  c("redirect", "valid_redirect", "a redirect from the current router for a destination installs a host route via the new router, flags UP,GATEWAY,HOST,DYNAMIC,DONE", {
    id: "netinet6_redirect__valid_redirect",
    source: `${D}/redirect.sh (+ redirect.py)`,
  }),

  c("addr6", "addr6_invalid_addr", "2001:db8::1/128 on an interface, then the same address as /127 alias: refused"),
  c("addr6", "anycast_raw_addr", "an anycast address on a loopback clone is a valid ping source", {
    status: "not-applicable",
    reason: "wavnet has no anycast addresses (ifconfig ... anycast) and no loopback cloner (docs/inet6.md, Left out)",
  }),

  c("mld", "mldraw01", "an MLD query is answered by a report sent to the right Ethernet group address", { source: `${D}/mld.sh (+ mld.py)` }),
  c("mld", "pr233683", "an address configured a second time keeps its solicited-node group: the peer's ping6 is answered", { source: `${D}/mld.sh` }),
];
