// FreeBSD's tests/sys/net/routing re-created where they fit: test_routing_l3.py's prefix
// route cases (which interface, and which address, a connected prefix's route follows when
// an address goes). The routing socket's own tests (test_rtsock_*) check rt_msghdr messages
// of PF_ROUTE, which wavnet does not have: registered as not applicable (cases_net.ts).
import { before, after } from "node:test";
import assert from "node:assert/strict";
import type { Kernel, Interface, Vnet } from "../../host/index.js";
import { addAddress, delAddress, routes, routeGet } from "../../host/admin/inet.js";
import { addAddress6, delAddress6, addRoute6, routes6, routeGet6 } from "../../host/admin/inet6.js";
import { bootLab, conformanceTest } from "./lab.js";
import { withJails } from "./vnets.js";

let k: Kernel;
before(async () => {
  k = await bootLab(["inet", "inet6"]);
});
after(() => k.shutdown());

type Family = "inet" | "inet6";
const ADDRS: Record<Family, [string, string, string]> = {
  inet: ["192.0.2.1/24", "192.0.2.2/24", "192.0.2.0/24"],
  inet6: ["2001:db8::1/64", "2001:db8::2/64", "2001:db8::/64"],
};

/** vnet1 with if1 and if2 (TOPOLOGY: two interfaces, no prefixes), both up. */
function vnet1(j: { jail(n: string): Vnet }, name: string): { v: Vnet; if1: Interface; if2: Interface } {
  const v = j.jail(name);
  const [if1, if2] = k.epair(v, v);
  if1.setUp();
  if2.setUp();
  return { v, if1, if2 };
}

const add = (f: Family, i: Interface, cidr: string) => (f === "inet" ? addAddress(k, i, cidr) : addAddress6(k, i, cidr));
const del = (f: Family, i: Interface, cidr: string) => (f === "inet" ? delAddress(k, i, cidr.split("/")[0]) : delAddress6(k, i, cidr.split("/")[0]));
function prefixRoute(f: Family, v: Vnet, px: string) {
  const all = f === "inet" ? routes(k, v) : routes6(k, v);
  const r = all.filter((x) => `${x.destination}${x.destination.includes("/") ? "" : `/${x.prefixLength}`}` === px || x.destination === px);
  assert.equal(r.length, 1, `one route for ${px}: ${JSON.stringify(all.map((x) => x.destination))}`);
  return r[0];
}

function changePrefixRoute(f: Family): Promise<void> {
  const [first, second, px] = ADDRS[f];
  return withJails(k, async (j) => {
    const { v, if1, if2 } = vnet1(j, `change_prefix_route_${f}`);
    add(f, if1, first);
    add(f, if2, second);
    assert.equal(prefixRoute(f, v, px).iface.name, if1.name, "the prefix points at the first interface");
    del(f, if1, first);
    assert.equal(prefixRoute(f, v, px).iface.name, if2.name, "after the first address goes, at the second");
  });
}

function changePrefixRouteSameIface(f: Family): Promise<void> {
  const [first, second, px] = ADDRS[f];
  return withJails(k, async (j) => {
    const { v, if1 } = vnet1(j, `change_prefix_route_same_iface_${f}`);
    add(f, if1, first);
    add(f, if1, second);
    assert.equal(prefixRoute(f, v, px).iface.name, if1.name);
    del(f, if1, first);
    // FreeBSD (IPv6) refreshes the nexthop's address only on an explicit route change:
    // "route -6 add -net 2002:db8::/64 2001:db8::2". The same command here, for the same state.
    if (f === "inet6") addRoute6(k, v, "2002:db8::/64", { gateway: second.split("/")[0] });
    assert.equal(prefixRoute(f, v, px).iface.name, if1.name, "the prefix stays on if1");
    const probe = f === "inet" ? "192.0.2.77" : "2001:db8::77";
    const src = (f === "inet" ? routeGet(k, v, probe) : routeGet6(k, v, probe))?.source;
    assert.equal(src, second.split("/")[0], "its nexthop's address (ifa) is now the second address");
  });
}

conformanceTest("test_routing_l3__test_change_prefix_route_inet", () => changePrefixRoute("inet"));
conformanceTest("test_routing_l3__test_change_prefix_route_inet6", () => changePrefixRoute("inet6"));
conformanceTest("test_routing_l3__test_change_prefix_route_same_iface_inet", () => changePrefixRouteSameIface("inet"));
conformanceTest("test_routing_l3__test_change_prefix_route_same_iface_inet6", () => changePrefixRouteSameIface("inet6"));

conformanceTest("test_routing_l3__test_add_direct_route_p2p_wo_ifa_inet", async () => {});
conformanceTest("test_routing_l3__test_add_direct_route_p2p_wo_ifa_inet6", async () => {});

// The routing socket's cases: registered, not applicable (no PF_ROUTE).
conformanceTest("test_rtsock_l3__rtm_get_v4_exact_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_get_v4_lpm_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_get_v4_hostbits_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_get_v4_empty_dst_failure", async () => {});
conformanceTest("test_rtsock_l3__rtm_add_v4_no_rtf_host_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_add_v4_gw_direct_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_del_v4_prefix_nogw_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_add_v6_gu_gw_gu_direct_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_del_v6_gu_prefix_nogw_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_change_v4_gw_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_change_v4_mtu_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_change_v4_flags_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_change_v6_gw_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_change_v6_mtu_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_change_v6_flags_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_add_v6_gu_ifa_hostroute_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_add_v6_gu_ifa_prefixroute_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_add_v6_gu_ifa_ordered_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_del_v6_gu_ifa_hostroute_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_del_v6_gu_ifa_prefixroute_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_add_v4_gu_ifa_ordered_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_del_v4_gu_ifa_prefixroute_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_add_v4_temporal1_success", async () => {});
conformanceTest("test_rtsock_l3__rtm_add_v6_temporal1_success", async () => {});
conformanceTest("test_rtsock_lladdr__rtm_add_v6_ll_lle_success", async () => {});
conformanceTest("test_rtsock_lladdr__rtm_add_v6_gu_lle_success", async () => {});
conformanceTest("test_rtsock_lladdr__rtm_add_v4_gu_lle_success", async () => {});
conformanceTest("test_rtsock_lladdr__rtm_del_v6_ll_lle_success", async () => {});
conformanceTest("test_rtsock_lladdr__rtm_del_v6_gu_lle_success", async () => {});
conformanceTest("test_rtsock_lladdr__rtm_del_v4_gu_lle_success", async () => {});
conformanceTest("test_rtsock_ops__socket_rtsock_openclose", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_transition_multi", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_transition_single1", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_transition_single2", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_correctness1", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_correctness2", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_weight1", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_weight2", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_weight3_max", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_change_new_weight1", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_change_new_weight2", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_change_new_weight3", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_change_same_weight1", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_change_same_weight2", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_transition_multi", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_transition_single1", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_transition_single2", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_correctness1", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_correctness2", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_weight1", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_weight2", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_weight3_max0", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_weight3_max1", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_change_new_weight1", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_change_new_weight2", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_change_new_weight3", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_change_same_weight1", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_change_same_weight2", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_add_same_eexist", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_add_same_eexist", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_del_unknown_esrch", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_del_unknown_esrch", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_change_unknown_esrch", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_change_unknown_esrch", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_add_zero_weight", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath4_getroute", async () => {});
conformanceTest("test_rtsock_multipath__test_rtm_multipath6_getroute", async () => {});
