// The registry's entries for FreeBSD's tests/sys/net: if_bridge_test.sh, if_epair.c,
// if_epair_test.sh, if_clone_test.sh and tests/sys/net/routing. One per atf test case (a
// pytest case per parameter), named `<file>__<case>` with the file's `_test` suffix and
// extension dropped, as ip_reass__* are. Tests are tests/conformance/net_*.test.ts;
// docs/conformance.md has the table ("## tests/sys/net").
import type { ConformanceCase } from "./cases.js";

const D = "tests/sys/net";
const c = (id: string, source: string, summary: string, extra: Partial<ConformanceCase> = {}): ConformanceCase => ({
  id, source: `${D}/${source}`, status: "applicable", summary, ...extra,
});
const na = (reason: string) => ({ status: "not-applicable" as const, reason });

const BRIDGE = "if_bridge_test.sh";
const CLONE = "if_clone_test.sh";
const NO_STP = "wavnet's bridge has no spanning tree (no stp, no port states); a loop of bridges is bounded by a depth guard instead (docs: if_bridgevar.ts)";

// if_clone_test.sh: each cloner FreeBSD stresses, and what wavnet has of it.
const CLONERS: [string, string | undefined][] = [
  ["epair", undefined],
  ["tap", undefined],
  ["faith", "wavnet has no faith(4) (it left FreeBSD in 11.0 too)"],
  ["gif", "wavnet has no gif(4) tunnels"],
  ["lo", "wavnet has no loopback cloner: every vnet has one lo0, made and destroyed with it"],
  ["tun", "wavnet has no tun(4) (tap is its only host-side interface)"],
  ["vlan", "wavnet has no vlan(4) (802.1Q frames are counted and dropped by ether_input)"],
  ["vmnet", "wavnet has no vmnet(4)"],
];
const cloneCases: ConformanceCase[] = CLONERS.flatMap(([cl, why]) => [
  c(`if_clone__${cl}_stress`, CLONE, `create and destroy ${cl} interfaces over and over, interleaved: nothing left, no crash`, why ? na(why) : {}),
  c(`if_clone__${cl}_up_stress`, CLONE, `create, bring up with 192.0.2.2/24 (IPv6 off) and destroy ${cl} interfaces in random order: nothing left`, why ? na(why) : {}),
  c(`if_clone__${cl}_ipv6_up_stress`, CLONE, `the same with IPv6 on (link-local address, DAD running when it goes)`, why ? na(why) : {}),
]);

// tests/sys/net/routing: the routing socket's own tests. wavnet has no routing socket.
const NO_RTSOCK = "wavnet has no routing socket (PF_ROUTE): routes are set through the host API (addRoute, addRoute6), so there are no rt_msghdr messages, flags or errnos of one to check";
const rtsock = (file: string, names: string[], summary: string, reason = NO_RTSOCK) =>
  names.map((n) => c(`${file.replace(/\.(c|py)$/, "")}__${n}`, `routing/${file}`, summary, na(reason)));
const RTSOCK_L3 = [
  "rtm_get_v4_exact_success", "rtm_get_v4_lpm_success", "rtm_get_v4_hostbits_success", "rtm_get_v4_empty_dst_failure",
  "rtm_add_v4_no_rtf_host_success", "rtm_add_v4_gw_direct_success", "rtm_del_v4_prefix_nogw_success",
  "rtm_add_v6_gu_gw_gu_direct_success", "rtm_del_v6_gu_prefix_nogw_success", "rtm_change_v4_gw_success",
  "rtm_change_v4_mtu_success", "rtm_change_v4_flags_success", "rtm_change_v6_gw_success", "rtm_change_v6_mtu_success",
  "rtm_change_v6_flags_success", "rtm_add_v6_gu_ifa_hostroute_success", "rtm_add_v6_gu_ifa_prefixroute_success",
  "rtm_add_v6_gu_ifa_ordered_success", "rtm_del_v6_gu_ifa_hostroute_success", "rtm_del_v6_gu_ifa_prefixroute_success",
  "rtm_add_v4_gu_ifa_ordered_success", "rtm_del_v4_gu_ifa_prefixroute_success", "rtm_add_v4_temporal1_success",
  "rtm_add_v6_temporal1_success",
];
const RTSOCK_LLADDR = [
  "rtm_add_v6_ll_lle_success", "rtm_add_v6_gu_lle_success", "rtm_add_v4_gu_lle_success",
  "rtm_del_v6_ll_lle_success", "rtm_del_v6_gu_lle_success", "rtm_del_v4_gu_lle_success",
];
const MPATH_PARAMS = [
  "transition_multi", "transition_single1", "transition_single2", "correctness1", "correctness2", "weight1", "weight2",
  "weight3_max", "change_new_weight1", "change_new_weight2", "change_new_weight3", "change_same_weight1", "change_same_weight2",
];
const NO_MPATH = `${NO_RTSOCK}; multipath routes exist (net.route.multipath, docs/route.md "Several paths"), but these cases add, change and read them as routing-socket messages (RTM_ADD/RTM_CHANGE/RTM_GET with weights)`;
const RTSOCK_MPATH = [
  ...MPATH_PARAMS.map((p) => `test_rtm_multipath4_${p}`),
  // pytest runs multipath6's duplicated "weight3_max" parameter twice, as weight3_max0 and weight3_max1.
  ...MPATH_PARAMS.flatMap((p) => (p === "weight3_max" ? [`${p}0`, `${p}1`] : [p])).map((p) => `test_rtm_multipath6_${p}`),
  "test_rtm_multipath4_add_same_eexist", "test_rtm_multipath6_add_same_eexist",
  "test_rtm_multipath4_del_unknown_esrch", "test_rtm_multipath6_del_unknown_esrch",
  "test_rtm_multipath4_change_unknown_esrch", "test_rtm_multipath6_change_unknown_esrch",
  "test_rtm_multipath4_add_zero_weight", "test_rtm_multipath4_getroute", "test_rtm_multipath6_getroute",
];

export const CASES_NET: readonly ConformanceCase[] = [
  c("if_bridge__bridge_transmit_ipv4_unicast", BRIDGE, "two jails on a bridge's two members ping each other (3 each way)"),
  c("if_bridge__stp", BRIDGE, "two bridges joined twice: spanning tree puts a port in discarding, others forwarding", na(NO_STP)),
  c("if_bridge__stp_vlan", BRIDGE, "the same loop over vlan(4) members", na(`${NO_STP}; and no vlan(4)`)),
  c("if_bridge__static", BRIDGE, "static address: refused on a non-member and for a short MAC; added, listed; deladdr refused for a short MAC and an unlisted one, then deletes"),
  c("if_bridge__span", BRIDGE, "a span port sees the bridge's traffic, and none once removed", na("wavnet's bridge has no span ports (ifconfig bridge span); a capture on any interface (docs/capture.md) is its way to watch traffic")),
  c("if_bridge__inherit_mac", BRIDGE, "net.link.bridge.inherit_mac=1, a bridge with an address gets its first member: no crash (PR 216510), the bridge wears the member's MAC"),
  c("if_bridge__delete_with_members", BRIDGE, "a bridge with an address and an up member is destroyed: the member survives, detached"),
  c("if_bridge__mac_conflict", BRIDGE, "bridge0 made in each of two jails: different MACs, the jails ping each other through them"),
  c("if_bridge__stp_validation", BRIDGE, "BPDUs with out-of-range timers sent into one member are not repeated on the other"),
  c("if_bridge__gif", BRIDGE, "a gif tunnel as a bridge member carries pings of 56, 1,200 and 2,000 bytes", na("wavnet has no gif(4) tunnels")),

  c("if_epair__params", "if_epair.c", "SIOCIFCREATE2 for epair with a bad ifr_data pointer: no crash", na("wavnet's cloners take no parameter block from the caller (ifconfig NAME create passes a name only), so there is no pointer to get wrong")),
  c("if_epair__pcp", "if_epair_test.sh", "an epair with pcp 3, then ping -C5: no double 802.1Q tag (PR 270736)", na("wavnet has no 802.1Q tagging or priority code points (no vlan(4), no ifconfig pcp)")),

  ...cloneCases,

  c("test_routing_l3__test_change_prefix_route_inet", "routing/test_routing_l3.py", "192.0.2.1/24 on if1, 192.0.2.2/24 on if2; deleting the first moves the prefix route to if2"),
  c("test_routing_l3__test_change_prefix_route_inet6", "routing/test_routing_l3.py", "2001:db8::1/64 on if1, ::2/64 on if2; deleting the first moves the prefix route to if2"),
  c("test_routing_l3__test_change_prefix_route_same_iface_inet", "routing/test_routing_l3.py", "two addresses of one prefix on if1; deleting the first keeps the prefix route on if1, now from the second address"),
  c("test_routing_l3__test_change_prefix_route_same_iface_inet6", "routing/test_routing_l3.py", "the same in IPv6: the route stays on if1, its source now the second address"),
  c("test_routing_l3__test_add_direct_route_p2p_wo_ifa_inet", "routing/test_routing_l3.py", "RTM_ADD of a prefix via a link gateway of an address-less tun", na(`${NO_RTSOCK}; and no tun(4)`)),
  c("test_routing_l3__test_add_direct_route_p2p_wo_ifa_inet6", "routing/test_routing_l3.py", "the same for an IPv6 prefix", na(`${NO_RTSOCK}; and no tun(4)`)),

  ...rtsock("test_rtsock_l3.c", RTSOCK_L3, "a routing socket message (RTM_GET/ADD/DELETE/CHANGE, or one an address change sends) and its reply"),
  ...rtsock("test_rtsock_lladdr.c", RTSOCK_LLADDR, "an ARP/ND entry added or deleted by a routing socket message"),
  ...rtsock("test_rtsock_ops.c", ["socket_rtsock_openclose"], "socket(PF_ROUTE, SOCK_RAW, 0) opens and closes"),
  ...rtsock("test_rtsock_multipath.py", RTSOCK_MPATH, "multipath routes by routing socket messages (weights, EEXIST, ESRCH)", NO_MPATH),
];
