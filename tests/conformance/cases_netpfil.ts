// FreeBSD's firewall-independent suite, tests/sys/netpfil/common (pass_block.sh, nat.sh,
// fragments.sh, forward.sh, tos.sh): each scenario is run once per firewall (runner.subr's
// setup_tests names the atf case "<firewall>_<scenario>"). wavnet has ipfw only: the ipfw
// cases are re-created (netpfil.test.ts), the pf, ipf and ipfnat ones are not applicable.
// Ids are "<file>__<atf case>": forward.sh and pass_block.sh both have an ipfw_v4.
import type { ConformanceCase } from "./cases.js";

const COMMON = "tests/sys/netpfil/common";
const NOT_OURS = (fw: string) =>
  `needs ${fw === "pf" ? "pf" : "IPFilter"} (${fw}), a firewall wavnet does not have: wavnet's packet filter is ipfw (docs/ipfw.md)`;

/** The pf / ipf / ipfnat variants of a scenario: registered, not applicable. */
function others(file: string, scenario: string, fws: string[], summary: string): ConformanceCase[] {
  return fws.map((fw) => ({
    id: `${file}__${fw}_${scenario}`, source: `${COMMON}/${file}.sh`, status: "not-applicable" as const, summary, reason: NOT_OURS(fw),
  }));
}

export const NETPFIL_CASES: readonly ConformanceCase[] = [
  {
    id: "pass_block__ipfw_v4", source: `${COMMON}/pass_block.sh`, status: "applicable",
    summary: "ipfw in the jail: `add 100 deny all from any to any` stops ping to it, `add 100 allow all from any to any` (after flush) lets it through",
  },
  ...others("pass_block", "v4", ["pf", "ipf"], "block in / pass in, IPv4 ping"),
  {
    id: "pass_block__ipfw_v6", source: `${COMMON}/pass_block.sh`, status: "applicable",
    summary: "the same over IPv6 (fd7a:803f:cc4b::/64): deny all stops ping6 (neighbour discovery with it), allow all lets it through",
  },
  ...others("pass_block", "v6", ["pf", "ipf"], "block in / pass in, IPv6 ping"),
  {
    id: "nat__ipfw_basic", source: `${COMMON}/nat.sh`, status: "applicable",
    summary: "two clients behind a forwarding jail cannot reach the host; `nat 123 config if <host side>` and `add 1000 nat 123 all from any to any` let both ping it",
  },
  ...others("nat", "basic", ["pf", "ipfnat"], "source NAT of two client nets to the outside address"),
  {
    id: "nat__ipfw_userspace_nat", source: `${COMMON}/nat.sh`, status: "not-applicable",
    summary: "the same NAT done by natd(8) through `divert natd all from any to any via <host side>`",
    reason: "needs ipdivert sockets and the natd daemon: wavnet has no divert action or socket and runs no userland programs in a vnet",
  },
  {
    id: "fragments__ipfw_fragments", source: `${COMMON}/fragments.sh`, status: "applicable",
    summary: "MTU 200 both ends, `add 100 reass all from any to any in`: ping and ping -s 800 pass (the firewall reassembles the fragments), ping -s 20000 (too many fragments) fails",
  },
  ...others("fragments", "fragments", ["pf", "ipf"], "reassembly by the firewall with a fragment limit"),
  {
    id: "forward__ipfw_v4", source: `${COMMON}/forward.sh`, status: "applicable",
    summary: "an echo request forwarded by the jail arrives on its far link; `deny all from any to any in` and then `... out` stop it",
  },
  ...others("forward", "v4", ["pf", "ipf"], "block in / block out of forwarded IPv4"),
  {
    id: "tos__ipfw_tos", source: `${COMMON}/tos.sh`, status: "applicable",
    summary: "`add 100 setdscp 9 ip from any to any` rewrites forwarded packets' TOS to 36 (39 keeping ECN 3); `deny all from any to any dscp 9` drops TOS 36, passes 32",
  },
  ...others("tos", "tos", ["pf"], "set-tos and filtering by TOS"),
];
