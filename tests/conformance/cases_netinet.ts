// The registry entries of FreeBSD's tests/sys/netinet suites (issue 17, beyond ip_reass):
// ARP, forwarding, output, longest-prefix match, redirects, and the socket-level C tests.
// One entry per atf test case; its id is the file's stem and the case name joined by "__"
// (FreeBSD reuses names such as basic_ipv4 across files). cases.ts spreads this list into
// CASES; the tests are tests/conformance/netinet_*.test.ts.
import type { ConformanceCase } from "./cases.js";

const NETINET = "tests/sys/netinet";

type Extra = Partial<Pick<ConformanceCase, "status" | "reason">>;

function from(file: string, stem: string) {
  return (name: string, summary: string, extra: Extra = {}): ConformanceCase => ({
    id: `${stem}__${name}`, source: `${NETINET}/${file}`, status: "applicable", summary, ...extra,
  });
}

const arp = from("arp.sh", "arp");
const fwd = from("forward.sh", "forward");
const out = from("output.sh", "output");
const lpm = from("lpm.sh", "lpm");
const redir = from("redirect.sh", "redirect");
const afinet = from("socket_afinet.c", "socket_afinet");
const cport = from("tcp_connect_port_test.c", "tcp_connect_port");
const lb = from("so_reuseport_lb_test.c", "so_reuseport_lb");
const udpb = from("udp_bindings.c", "udp_bindings");
const udpio = from("udp_io.c", "udp_io");
const tcps = from("tcp_socket.c", "tcp_socket");
const tstats = from("tcpstats_test.sh", "tcpstats");

const TCPSTATS = "tcpstats is an out-of-tree character device module (/dev/tcpstats, dev.tcpstats.* sysctls) for reading connection statistics; wavnet has no device nodes, and its TCP connection list is read with tcpConnections (netstat -an)";

export const NETINET_CASES: readonly ConformanceCase[] = [
  arp("arp_add_success", "arp -s 198.51.100.2 90:10:00:01:02:03: a permanent entry, shown by arp -n"),
  arp("arp_del_success", "ping -c1 an absent host (an incomplete entry), arp -d it: deleted, then no entry"),
  arp("pending_delete_if", "199 hosts pinged at once (incomplete entries with held packets), then the interface destroyed: no crash, nothing left"),
  arp("arp_lookup_host", "no entry before, ping the other jail, then an entry with its MAC on the right interface"),
  arp("static", "arp -s to 0:0:0:0:0:0, the other jail's gratuitous ARP must not change it; arp -d, ping, a learned entry expiring in max_age; arp -S replaces it with a permanent one"),
  arp("garp", "net.link.ether.inet.garp_rexmit_count=3, an address added: gratuitous ARPs sent, no crash"),
  fwd("fwd_ip_icmp_iface_fast_success", "router on a stick (forwarding=1, redirect=0): an echo request to a connected host comes back out with MACs swapped and TTL - 1; '1 packet forwarded (1 packet fast forwarded)'"),
  fwd("fwd_ip_icmp_gw_fast_success", "the same through a host route via a gateway: forwarded, fast forwarded"),
  fwd("fwd_ip_icmp_iface_slow_success", "the same with an IP option (Stream ID): forwarded on the slow path, '1 packet forwarded (0 packets fast forwarded)'"),
  fwd("fwd_ip_icmp_gw_slow_success", "(FreeBSD's script sends the fast-path packet here) through the gateway route: forwarded, fast forwarded"),
  fwd("fwd_ip_blackhole", "a ping through the router to an absent host: 0 not forwardable; a blackhole route to it: with an IP option and without, 1 then 2 packets not forwardable"),
  out("output_tcp_setup_success", "a TCP connection between two jails carries 'testtesttst' to a listener on port 4242"),
  out("output_udp_setup_success", "a UDP datagram 'testtesttst' from one jail reaches a socket bound to port 4242 in the other"),
  out("output_raw_success", "ping -c1 from one jail to the other: 1 transmitted, 1 received"),
  out("output_tcp_flowid_mpath_success", "two routes to one /24 (multipath): 640 TCP connections spread over both epairs"),
  out("output_udp_flowid_mpath_success", "two routes to one /24 (multipath): 640 UDP datagrams spread over both epairs"),
  out("output_raw_flowid_mpath_success", "two routes to one /24 (multipath): pings to 32 addresses spread over both epairs"),
  lpm("lpm_test1_success", "routes to 198.51.100.0/30 and /31 over two epairs: .0 goes by the /31, .2 by the /30 (20 pings each)"),
  lpm("lpm_test2_success", "host routes to 198.51.100.0 and .1 over two epairs: each goes its own way"),
  redir("valid_redirect", "an ICMP redirect (host) from the current gateway of 198.51.100.0/24 for 198.51.100.42 to 192.0.2.4: a host route to .42 installed"),
  afinet("socket_afinet", "socket(PF_INET, SOCK_DGRAM, 0) succeeds"),
  afinet("socket_afinet_bind_zero", "bind() with an all-zero sockaddr_in (family 0; sa_len comes from the length argument): binds 0.0.0.0:0, returns 0"),
  afinet("socket_afinet_bind_ok", "bind() to 127.0.0.1 port 0: returns 0"),
  afinet("socket_afinet_poll_no_rdhup", "an accepted connection polls POLLOUT only; after the client closes, POLLIN (no POLLRDHUP unless asked)"),
  afinet("socket_afinet_poll_rdhup", "one of two bytes read: POLLIN|POLLOUT; after the client closes, POLLRDHUP though a byte is unread"),
  afinet("socket_afinet_stream_reconnect", "connect() on a connected then shut-down stream socket: EISCONN"),
  cport("basic_ipv4", "65,536 connections to a listener on 127.0.0.1 with sequential ports: no client ever gets the listener's port"),
  cport("basic_ipv6", "the same over ::1"),
  lb("basic_ipv4", "16 listeners with SO_REUSEPORT_LB on one 127.0.0.1 port, 16,384 connections: each listener accepts more than 128"),
  lb("basic_ipv6", "the same over ::1"),
  udpb("v4mapped", "an AF_INET6 datagram socket with IPV6_V6ONLY off sends to ::ffff:127.0.0.1 (bug 274009): sendto returns the length"),
  udpb("gethostname", "getsockname of a newborn datagram socket: 0.0.0.0:0; after a sendto: 0.0.0.0 and a port"),
  udpb("gethostname_jailed", "in a non-VNET jail limited to 127.0.0.1, getsockname after sendto gives 127.0.0.1", {
    status: "not-applicable",
    reason: "the case is about FreeBSD's non-VNET jails, which share the host's stack and rewrite a wildcard source to the jail's one address (prison_local_ip4); every wavnet vnet is a stack of its own (a VNET jail), where FreeBSD also keeps 0.0.0.0",
  }),
  udpb("IP_SENDSRCADDR", "sendmsg with an IP_SENDSRCADDR control message: EINVAL on an unbound socket; then from each local address, the echo sees that source and IP_RECVDSTADDR reports it"),
  udpio("trunc", "a 13-byte datagram read into a shorter buffer: that many bytes, MSG_TRUNC; the rest is gone (EAGAIN)"),
  udpio("peek", "MSG_PEEK ten times with random lengths: the same bytes each time, MSG_TRUNC when shorter"),
  tcps("implied_connect", "sendto() with an address on an unconnected TCP socket connects it and sends; the listener accepts and reads the bytes"),
  tcps("getsockname_disconnected", "after the peer closes, getsockname of the client still gives 127.0.0.1"),
  tstats("kmod_load_unload", "kldload tcpstats, /dev/tcpstats exists, kldunload", { status: "not-applicable", reason: TCPSTATS }),
  tstats("dev_readable", "/dev/tcpstats reads", { status: "not-applicable", reason: TCPSTATS }),
  tstats("sysctl_exists", "dev.tcpstats.* sysctls registered", { status: "not-applicable", reason: TCPSTATS }),
];
