// Names ipfw reads and prints: IP protocols (FreeBSD's /etc/protocols: first name and its
// alias, IANA's numbers), a small built-in service table for ports (no /etc/services in a
// browser), ICMP and ICMPv6 unreachable codes, TCP flags and options. ipfw resolves protocols
// and services through the C library; wavnet carries the common entries as data so a rule
// parses the same in Node and in a browser.

/** number -> [name ipfw prints, other names it reads]. */
const PROTOCOLS: Record<number, string[]> = {
  1: ["icmp", "ICMP"], 2: ["igmp", "IGMP"], 3: ["ggp", "GGP"], 4: ["ipencap", "IP-ENCAP"], 5: ["st2", "ST2"],
  6: ["tcp", "TCP"], 7: ["cbt", "CBT"], 8: ["egp", "EGP"], 9: ["igp", "IGP"], 10: ["bbn-rcc", "BBN-RCC-MON"],
  11: ["nvp", "NVP-II"], 12: ["pup", "PUP"], 13: ["argus", "ARGUS"], 14: ["emcon", "EMCON"], 15: ["xnet", "XNET"],
  16: ["chaos", "CHAOS"], 17: ["udp", "UDP"], 18: ["mux", "MUX"], 19: ["dcn", "DCN-MEAS"], 20: ["hmp", "HMP"],
  21: ["prm", "PRM"], 22: ["xns-idp", "XNS-IDP"], 23: ["trunk-1", "TRUNK-1"], 24: ["trunk-2", "TRUNK-2"],
  25: ["leaf-1", "LEAF-1"], 26: ["leaf-2", "LEAF-2"], 27: ["rdp", "RDP"], 28: ["irtp", "IRTP"], 29: ["iso-tp4", "ISO-TP4"],
  30: ["netblt", "NETBLT"], 31: ["mfe-nsp", "MFE-NSP"], 32: ["merit-inp", "MERIT-INP"], 33: ["dccp", "DCCP"],
  34: ["3pc", "3PC"], 35: ["idpr", "IDPR"], 36: ["xtp", "XTP"], 37: ["ddp", "DDP"], 38: ["idpr-cmtp", "IDPR-CMTP"],
  39: ["tp++", "TP++"], 40: ["il", "IL"], 41: ["ipv6", "IPV6"], 42: ["sdrp", "SDRP"], 43: ["ipv6-route", "IPV6-ROUTE"],
  44: ["ipv6-frag", "IPV6-FRAG"], 45: ["idrp", "IDRP"], 46: ["rsvp", "RSVP"], 47: ["gre", "GRE"], 48: ["dsr", "DSR"],
  49: ["bna", "BNA"], 50: ["esp", "ESP"], 51: ["ah", "AH"], 52: ["i-nlsp", "I-NLSP"], 53: ["swipe", "SWIPE"],
  54: ["narp", "NARP"], 55: ["mobile", "MOBILE"], 56: ["tlsp", "TLSP"], 57: ["skip", "SKIP"],
  58: ["ipv6-icmp", "IPV6-ICMP", "icmp6"], 59: ["ipv6-nonxt", "IPV6-NONXT"], 60: ["ipv6-opts", "IPV6-OPTS"],
  62: ["cftp", "CFTP"], 64: ["sat-expak", "SAT-EXPAK"], 65: ["kryptolan", "KRYPTOLAN"], 66: ["rvd", "RVD"],
  67: ["ippc", "IPPC"], 69: ["sat-mon", "SAT-MON"], 70: ["visa", "VISA"], 71: ["ipcv", "IPCV"], 72: ["cpnx", "CPNX"],
  73: ["cphb", "CPHB"], 74: ["wsn", "WSN"], 75: ["pvp", "PVP"], 76: ["br-sat-mon", "BR-SAT-MON"], 77: ["sun-nd", "SUN-ND"],
  78: ["wb-mon", "WB-MON"], 79: ["wb-expak", "WB-EXPAK"], 80: ["iso-ip", "ISO-IP"], 81: ["vmtp", "VMTP"],
  82: ["secure-vmtp", "SECURE-VMTP"], 83: ["vines", "VINES"], 84: ["ttp", "TTP"], 85: ["nsfnet-igp", "NSFNET-IGP"],
  86: ["dgp", "DGP"], 87: ["tcf", "TCF"], 88: ["eigrp", "EIGRP"], 89: ["ospf", "OSPFIGP"], 90: ["sprite-rpc", "Sprite-RPC"],
  91: ["larp", "LARP"], 92: ["mtp", "MTP"], 93: ["ax.25", "AX.25"], 94: ["ipip", "IPIP"], 95: ["micp", "MICP"],
  96: ["scc-sp", "SCC-SP"], 97: ["etherip", "ETHERIP"], 98: ["encap", "ENCAP"], 100: ["gmtp", "GMTP"], 101: ["ifmp", "IFMP"],
  102: ["pnni", "PNNI"], 103: ["pim", "PIM"], 104: ["aris", "ARIS"], 105: ["scps", "SCPS"], 106: ["qnx", "QNX"],
  107: ["a/n", "A/N"], 108: ["ipcomp", "IPComp"], 109: ["snp", "SNP"], 110: ["compaq-peer", "Compaq-Peer"],
  111: ["ipx-in-ip", "IPX-in-IP"], 112: ["carp", "CARP", "vrrp"], 113: ["pgm", "PGM"], 115: ["l2tp", "L2TP"],
  116: ["ddx", "DDX"], 117: ["iatp", "IATP"], 118: ["stp", "STP"], 119: ["srp", "SRP"], 120: ["uti", "UTI"],
  121: ["smp", "SMP"], 122: ["sm", "SM"], 123: ["ptp", "PTP"], 124: ["isis", "ISIS"], 125: ["fire", "FIRE"],
  126: ["crtp", "CRTP"], 127: ["crudp", "CRUDP"], 128: ["sscopmce", "SSCOPMCE"], 129: ["iplt", "IPLT"], 130: ["sps", "SPS"],
  131: ["pipe", "PIPE"], 132: ["sctp", "SCTP"], 133: ["fc", "FC"], 134: ["rsvp-e2e-ignore", "RSVP-E2E-IGNORE"],
  135: ["mobility-header", "Mobility-Header"], 136: ["udplite", "UDPLite"], 137: ["mpls-in-ip", "MPLS-IN-IP"],
  138: ["manet", "MANET"], 139: ["hip", "HIP"], 140: ["shim6", "SHIM6"], 141: ["wesp", "WESP"], 142: ["rohc", "ROHC"],
  240: ["pfsync", "PFSYNC"],
};

const protoByName = new Map<string, number>();
for (const [n, names] of Object.entries(PROTOCOLS)) for (const name of names) protoByName.set(name, Number(n));

/** A protocol name (or alias, as getprotobyname(3) reads it: exact case) -> its number. */
export function protocolNumber(name: string): number | undefined {
  return protoByName.get(name);
}

/**
 * The name ipfw prints for a protocol number, or the number. 41 ("ipv6") is printed as the
 * number: ipfw prints its /etc/protocols name, which its own parser then reads as the `ipv6`
 * family keyword, so that listing would not read back as the same rule.
 */
export function protocolName(n: number): string {
  if (n === 41) return "41";
  return PROTOCOLS[n]?.[0] ?? String(n);
}

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** name -> [port, protocols it is defined for]: the common entries of /etc/services. */
const SERVICES: Record<string, [number, ("tcp" | "udp")[]]> = {
  "ftp-data": [20, ["tcp", "udp"]], ftp: [21, ["tcp", "udp"]], ssh: [22, ["tcp", "udp"]], telnet: [23, ["tcp", "udp"]],
  smtp: [25, ["tcp", "udp"]], domain: [53, ["tcp", "udp"]], bootps: [67, ["tcp", "udp"]], bootpc: [68, ["tcp", "udp"]],
  tftp: [69, ["tcp", "udp"]], http: [80, ["tcp", "udp"]], www: [80, ["tcp", "udp"]], kerberos: [88, ["tcp", "udp"]],
  pop3: [110, ["tcp", "udp"]], sunrpc: [111, ["tcp", "udp"]], nntp: [119, ["tcp", "udp"]], ntp: [123, ["tcp", "udp"]],
  imap: [143, ["tcp", "udp"]], snmp: [161, ["tcp", "udp"]], "snmp-trap": [162, ["tcp", "udp"]], bgp: [179, ["tcp", "udp"]],
  ldap: [389, ["tcp", "udp"]], https: [443, ["tcp", "udp"]], "microsoft-ds": [445, ["tcp", "udp"]],
  isakmp: [500, ["tcp", "udp"]], syslog: [514, ["udp"]], shell: [514, ["tcp"]], submission: [587, ["tcp", "udp"]],
  ldaps: [636, ["tcp", "udp"]], imaps: [993, ["tcp", "udp"]], pop3s: [995, ["tcp", "udp"]], openvpn: [1194, ["tcp", "udp"]],
  nfsd: [2049, ["tcp", "udp"]], mysql: [3306, ["tcp", "udp"]], "ms-wbt-server": [3389, ["tcp", "udp"]],
  postgresql: [5432, ["tcp", "udp"]], "http-alt": [8080, ["tcp", "udp"]],
};

/**
 * A service name -> its port, as getservbyname(name, proto) answers: for TCP and UDP the
 * entry must exist for that protocol, for no protocol (`ip`) any entry does, and for any other
 * protocol none does (/etc/services has no entries for it).
 */
export function servicePort(name: string, proto: number): number | undefined {
  const e = SERVICES[name];
  if (!e) return undefined;
  if (proto === 0) return e[0];
  if (proto === IPPROTO_TCP) return e[1].includes("tcp") ? e[0] : undefined;
  if (proto === IPPROTO_UDP) return e[1].includes("udp") ? e[0] : undefined;
  return undefined;
}

/** ICMP destination-unreachable codes by name (RFC 792, RFC 1122, RFC 1812): `unreach NAME`. */
export const ICMP_CODES: [string, number][] = [
  ["net", 0], ["host", 1], ["protocol", 2], ["port", 3], ["needfrag", 4], ["srcfail", 5], ["net-unknown", 6],
  ["host-unknown", 7], ["isolated", 8], ["net-prohib", 9], ["host-prohib", 10], ["tosnet", 11], ["toshost", 12],
  ["filter-prohib", 13], ["host-precedence", 14], ["precedence-cutoff", 15],
];

/** ICMPv6 destination-unreachable codes by name (RFC 4443 3.1): `unreach6 NAME`. */
export const ICMP6_CODES: [string, number][] = [["no-route", 0], ["admin-prohib", 1], ["address", 3], ["port", 4]];

/** TCP flags in the order ipfw prints them (arg1 bits of O_TCPFLAGS). */
export const TCP_FLAGS: [string, number][] = [
  ["syn", 2], ["fin", 1], ["ack", 16], ["psh", 8], ["rst", 4], ["urg", 32], ["ece", 64], ["cwr", 128],
];

/** TCP options (arg1 bits of O_TCPOPTS), first name of each bit is the one printed. */
export const TCP_OPTS: [string, number][] = [
  ["mss", 1], ["maxseg", 1], ["window", 2], ["sack", 4], ["ts", 8], ["timestamp", 8], ["cc", 16],
];

/** The largest ICMP type ipfw's icmptypes takes (its bitmap was one word). */
export const ICMP_MAXTYPE = 31;
/** The largest ICMPv6 type icmp6types takes (ICMP6_MAXTYPE). */
export const ICMP6_MAXTYPE = 201;

/**
 * DiffServ code point names ipfw reads and prints (its f_ipdscp; the values are RFC 2597's
 * AF classes, RFC 3246's EF, RFC 2474's class selectors, RFC 5865's VOICE-ADMIT). Printing
 * takes the first name of a value: 0 prints as "be".
 */
export const DSCP_NAMES: [string, number][] = [
  ["af11", 10], ["af12", 12], ["af13", 14], ["af21", 18], ["af22", 20], ["af23", 22], ["af31", 26], ["af32", 28],
  ["af33", 30], ["af41", 34], ["af42", 36], ["af43", 38], ["be", 0], ["ef", 46], ["cs0", 0], ["cs1", 8], ["cs2", 16],
  ["cs3", 24], ["cs4", 32], ["cs5", 40], ["cs6", 48], ["cs7", 56], ["va", 44],
];

/** A code point's name, or its number when it has none. */
export function dscpText(v: number): string {
  return DSCP_NAMES.find(([, c]) => c === v)?.[0] ?? String(v);
}
