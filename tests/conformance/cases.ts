// The registry of FreeBSD regression cases wavnet re-creates (issue 17). One entry per
// FreeBSD test case: where it lives in FreeBSD's tree, its status here, and why when it is
// not applicable or a known divergence. The tests in this folder name their case by id;
// bench/groups/conformance.ts counts them (docs/conformance.md is the table for people).

import { NETINET_CASES } from "./cases_netinet.js";
import { NETPFIL_CASES } from "./cases_netpfil.js";
import { CASES_NETINET6 } from "./cases_netinet6.js";
import { CASES_NET } from "./cases_net.js";

export type CaseStatus = "applicable" | "not-applicable" | "known-divergence";

export interface ConformanceCase {
  /** FreeBSD's test case name (atf), also the id of the test here. */
  id: string;
  /** The file in FreeBSD's tree (freebsd/freebsd-src) the case comes from. */
  source: string;
  status: CaseStatus;
  /** What the case sends and expects, in one line. */
  summary: string;
  /** Why not applicable, or what diverges (known-divergence); shown as the test's todo. */
  reason?: string;
}


const FRAG6 = "tests/sys/netinet6/frag6";
const f6 = (n: string, file: string, summary: string, extra: Partial<ConformanceCase> = {}): ConformanceCase => ({
  id: `frag6_${n}`, source: `${FRAG6}/frag6_${file}.sh (+ .py)`, status: "applicable", summary, ...extra,
});
const REASS = "tests/sys/netinet/ip_reass_test.c";

export const CASES: readonly ConformanceCase[] = [
  f6("01", "01", "a jumbogram (hop-by-hop Jumbo Payload, plen 0) carrying a first fragment: parameter problem, bad options counted", {
    status: "not-applicable",
    reason: "a jumbogram carries more than 65,535 bytes (RFC 2675) and a wavnet link carries frames of at most 65,536 bytes, so none can arrive; FreeBSD skips this case too (atf_skip: jumbograms need kernel and BPF changes)",
  }),
  f6("02", "02", "a first fragment (M set) whose length is not a multiple of 8: parameter problem at the payload length, not counted as a fragment"),
  f6("03", "03", "atomic fragments (offset 0, M clear), with and without a Destination Options header: processed at once, port unreachable"),
  f6("04", "04", "a first fragment with no bytes: parameter problem, fragdropped"),
  f6("05_0", "05", "net.inet6.ip6.maxfrags=0, 20 first fragments: all dropped (fragdropped 20), no ICMPv6"),
  f6("05_1", "05", "net.inet6.ip6.maxfrags=10, 20 first fragments: 10 dropped, 10 held then timed out with 10 time exceeded"),
  f6("06_0", "06", "net.inet6.ip6.maxfragbucketsize=0, 20 fragments of one datagram: all dropped, no ICMPv6"),
  f6("07", "07", "a fragment ending past 65,535 against a held first fragment, and one alone: parameter problems, the first still times out"),
  f6("08", "08", "a queued last fragment pushed past 65,535 by a first fragment's 16-byte unfragmentable part: parameter problem for it, the first times out"),
  f6("09", "09", "a single first fragment (UDP header only): time exceeded (reassembly) after 60 s"),
  f6("10", "10", "a single middle fragment: held, timed out, no ICMPv6"),
  f6("11", "11", "a single last fragment: held, timed out, no ICMPv6"),
  f6("12", "12", "a single first fragment with 1,280 bytes of payload: time exceeded after 60 s"),
  f6("13", "13", "fragments mixing not-ECT with CE, and ECT(1) with not-ECT (RFC 3168 5.3): the second of each dropped, both datagrams time out"),
  f6("14", "14", "an exact duplicate (dropped alone) and a partial overlap (datagram dropped, RFC 5722)"),
  f6("15", "15", "net.inet6.ip6.maxfragsperpacket=3: the 4th fragment drops the datagram (fragdropped 4), with a time exceeded when the first was held"),
  f6("16", "16", "a 38,408-byte UDP datagram in 30 fragments: reassembled, port unreachable"),
  f6("17", "17", "(no scenario: frag6_17.sh runs frag6_17.py with no checks)", {
    status: "not-applicable",
    reason: "frag6_17.sh has no check function and its frag6_17.py is not in the source index read for this work; nothing to re-create",
  }),
  f6("18", "18", "127 random fragments from random sources, then the jail (vnet) is destroyed: nothing left, no crash"),
  f6("19", "19", "127 datagrams of one middle fragment each: all held (more than the old 64-datagram limit), all time out"),
  f6("20", "20", "a first fragment, a last one that just fits, then a second first fragment with an unfragmentable part: the duplicate dropped alone, time exceeded later"),
  {
    id: "ip_reass__multiple_last_fragments", source: REASS, status: "applicable",
    summary: "fragments contradicting a held last fragment (another last, M set past it, a different length): each dropped and counted, the held one kept",
  },
  {
    id: "ip_reass__zero_length_fragment", source: REASS, status: "applicable",
    summary: "zero-length fragments, M set and M clear: toosmall and fragdropped each",
  },
  {
    id: "ip_reass__large_fragment", source: REASS, status: "applicable",
    summary: "16 bytes at offset 65,528, M set and clear: toolong and fragdropped each",
  },
  ...NETINET_CASES,
  ...NETPFIL_CASES,
  ...CASES_NETINET6,
  ...CASES_NET,
];

export function conformanceCase(id: string): ConformanceCase {
  const c = CASES.find((x) => x.id === id);
  if (!c) throw new Error(`tests/conformance: no case ${JSON.stringify(id)} in the registry (cases.ts)`);
  return c;
}
