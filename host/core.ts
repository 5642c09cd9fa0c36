// wavnet/core: the platform-neutral core. Everything here runs in a browser, a worker or
// Node with no Node built-in: boot a kernel (binaries from bytes or URLs), load modules,
// clocks, interfaces and links, IPv4/IPv6/TCP/UDP administration, BSD sockets, ping,
// capture to memory or streams, topology files (parse, check, up, steps, down), and the
// shell's commands (the `wavnet shell` language: Commands, ShellCore).
// Node's extras (files, VXLAN over node:dgram, node:net/dgram look-alikes, the CLI) are in
// wavnet/node; the package's main entry `wavnet` is both.
import "./vnet.js";

export { Kernel, Vnet, PORT_RANK, PAGE_SIZE, type BootOptions, type ZoneRow, type Accounting, type VnetAccounting, type HostPort } from "./kern/kernel.js";
export type { KernelExports } from "./kern/abi.js";
export { VirtualClock, RealClock, VIRTUAL_TIME_MAX_US, type Clock, type ClockTarget } from "./kern/clock.js";
export type { KldStat, KldStatVerbose, KldState, KldLeft, KldCheckpoint, KldUnloadOptions, ModuleSource } from "./kern/linker.js";
export { bytesModuleSource, urlModuleSource, handedModuleSource, type HandedModuleSource } from "./kern/source.js";
export { loadLinkMap, type LinkMap, type ModuleEntry } from "./kern/linkmap.js";
export * from "./lib/errors.js";
export { setPlatform, platform, toByteSink, type Platform, type ByteSink } from "./lib/platform.js";
export { Emitter } from "./lib/events.js";
export { parseRate, parseDuration, parseBytes, parseProbability } from "./lib/units.js";
export {
  parseIPv4, parseIPv4Bytes, formatIPv4, isIPv4, parseIPv6, parseIPv6Zoned, splitZone, formatIPv6, isIPv6, isIPv6Text, isLinkLocal,
  parseAddress, parsePrefix, parsePrefix6, type Family, type ParsedAddress,
} from "./lib/addr.js";

export { Interface, InterfaceGoneError, parseMac, formatMac, flagNames, capNames, ETHERSTATS, IFCAP, CSUM, type IfCounters, type EtherStats } from "./admin/ifnet.js";
export { epairConditions, clearConditions, getConditions, epairStats, epairPeer, epairCount, type LinkConditions, type EpairStats } from "./admin/epair.js";
export * from "./admin/bridge.js";
export { pfilStats, pfilHeadRegistered, PFIL_HEADS, type PfilHead, type PfilDir, type PfilHeadStats } from "./admin/pfil.js";
export {
  ipfwAdd, ipfwDelete, ipfwFlush, ipfwZero, ipfwList, ipfwStates, ipfwSetDefault, ipfwGet, ipfwSet, ipfwGauges, ipfwStats, ipfwLog,
  IpfwRuleError, IPFW_REJECT_REASONS, IPFW_KNOBS, IPFW_STATS,
  type IpfwRule, type IpfwState, type IpfwKnob, type IpfwStats, type IpfwLogEntry,
  ipfwTableCreate, ipfwTableDestroy, ipfwTableFlush, ipfwTableAdd, ipfwTableDelete, ipfwTableList, ipfwTableInfo, ipfwTables,
  ipfwTableLookup, IpfwTableError, type IpfwTableEntry, type IpfwTableInfo,
} from "./admin/ipfw.js";
export {
  addAddress, delAddress, addresses, addRoute, addBlackholeRoute, addRoutes, delRoute, routes, routeGet, netstatRn, setForwarding, forwarding, setIcmpLimit, setIcmpTstampRepl, icmpTstampRepl, arpGcThresh, garpRexmitCount,
  arpTable, arpAn, arpSet, arpDelete, ipStats, icmpStats, arpStats, netstatS, inetGauges, ipReassKnob, type IpReassKnob,
  IPSTATS, ICMPTYPES, ARPSTATS,
  type InetAddress, type RouteEntry, type RouteVia, type RouteAdd, type ArpEntry, type GcThresh, type IpStats, type IcmpStats, type ArpStats,
} from "./admin/inet.js";
export {
  hasInet6, addAddress6, delAddress6, addresses6, addRoute6, delRoute6, routes6, routeGet6,
  netstatRn6, setForwarding6, forwarding6, setV6only, v6only, setIcmp6Limit, inet6Gauges, nd6GcThresh, frag6Knob, type Frag6Knob, ndpTable, ndpAn, ndpAdd, ndpDelete, ip6Stats, icmp6Stats, nd6Stats, netstatS6,
  IP6STATS, ICMP6TYPES, ND6STATS,
  type Inet6Address, type Route6Entry, type Route6Via, type NdEntry, type NdState, type Ip6Stats, type Icmp6Stats, type Nd6Stats,
} from "./admin/inet6.js";
export {
  setAcceptRtadv, setNoDad, acceptRtadvDefault, advertise, ndIfinfo, defaultRouters, prefixList6, ndpR, ndpP,
  type AdvPrefix, type AdvertiseOptions, type NdIfinfo, type DefaultRouter, type PrefixEntry,
} from "./admin/rtadv.js";
export {
  ping, ping6, traceroute, traceroute6, type PingError,
  type PingOptions, type PingResult, type PingReply, type TracerouteOptions, type TracerouteResult, type TraceHop, type TraceProbe,
} from "./admin/ping.js";
export { udpStats, netstatUdp, portRange, setPortRange, udpGauges, udpSocketsOpen, sendBatch, recvBatch, UDPSTATS, IPPROTO_UDP, UDP_MAXPAYLOAD, type UdpStats, type UdpDatagram,
  sendmsg, recvmsg, IPPROTO_IP, IP_SENDSRCADDR, IP_RECVDSTADDR, type UdpSendmsgOptions, type UdpMessage } from "./admin/udp.js";
export {
  tcpStats, netstatSTcp, tcpConnections, netstatAnTcp, tcpState, setNoDelay, setKeepAlive, setCongestion, tcpKnob, maxSockets, IPPROTO_TCP, TCP, TCP_CC,
  TCP_STATES, TCPSTAT_NAMES, type TcpStats, type TcpConnection, type TcpState, type TcpKnob,
} from "./admin/tcp.js";
// Every per-vnet knob by its sysctl name (what topology files and the shell's sysctl take).
export { SYSCTLS, sysctlKnobs, sysctlKnob, sysctlGet, sysctlSet, type SysctlKnob } from "./admin/sysctl.js";

export {
  Socket, SocketError, SocketClosedError, SocketRegistry, socket, sockstat, formatSockstat, sockaddrIn, sockaddrIn6, parseSockaddr, formatSockaddr,
  AF_INET, AF_INET6, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOL_SOCKET, SO, MSG, IPPROTO_IPV6, IPV6_V6ONLY,
  type SockAddr, type SockAddrIn, type SockAddrIn6, type AddressLike, type Datagram, type SockstatRow,
} from "./sockets/socket.js";

export { socketStreams, type SocketStreams } from "./sockets/streams.js";
export {
  PcapWriter, PcapngWriter, readPcap, readPcapng, loopbackHeader, LINKTYPE_ETHERNET, LINKTYPE_NULL, MAX_SNAPLEN,
  type PcapPacket, type PcapngInterface, type PcapngStats, type PcapFile, type PcapngFile,
} from "./capture/pcap.js";
export { Capture, PcapngSink, CaptureRecordError, parseRecords, encodeRecords, type Frame, type CaptureOptions, type RingRecord } from "./capture/capture.js";
export { LiveCapture, type CaptureStartOptions } from "./capture/tap.js";

export { TapInterface, TapPort, createTap, tapCount, randomMac, TAP_STATS, TAP_MTU, TAP_MAXMTU, TAP_MAXFRAME, type TapStats, type TapOptions, type TapDrop, type Wire } from "./wire/tap.js";
export {
  WebSocketInterface, connectWebSocket, createWebSocketInterface, setWebSocketConstructor, webSocketConstructor, WS_SEND_BUFFER, WS_CONNECT_TIMEOUT_MS,
  type WebSocketLike, type WebSocketConstructor, type WebSocketOptions, type WebSocketConnectOptions, type WebSocketStats, type CloseInfo,
} from "./wire/websocket.js";

export * from "./topology/index.js";

export { Commands, CommandError, CommandFailed, interfaceNames, type CommandNode, type CommandsOptions, type ShellCapture } from "./shell/commands.js";
export { ShellCore, SHELL_WORDS, type ShellSession, type LineResult } from "./shell/shell.js";
export { resultTable, figuresText, passedLine } from "./shell/results.js";
export * from "./ipfw/index.js";
