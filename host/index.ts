// wavnet: many network stacks in one WebAssembly kernel.
export { Kernel, Vnet, type BootOptions, type ZoneRow, type Accounting, type VnetAccounting, type KernelExports } from "./kernel.js";
export { VirtualClock, RealClock, type Clock } from "./clock.js";
export type { KldStat, ModuleSource } from "./linker.js";
export * from "./errors.js";
export { Interface, InterfaceGoneError, parseMac, formatMac, flagNames, ETHERSTATS, IFCAP, CSUM, type IfCounters, type EtherStats } from "./ifnet.js";
export { PcapWriter, PcapngWriter, writePcapFile, writePcapngFile, readPcap, readPcapng, loopbackHeader, LINKTYPE_ETHERNET, LINKTYPE_NULL, MAX_SNAPLEN, type PcapPacket, type PcapngInterface, type PcapngStats } from "./pcap.js";
export { Capture, PcapngSink, CaptureRecordError, parseRecords, ringRecords, encodeRecords, type Frame, type CaptureOptions, type RingRecord } from "./capture.js";
export { LiveCapture, type CaptureStartOptions } from "./tap.js";
export * from "./bridge.js";
export { epairConditions, clearConditions, getConditions, epairStats, epairPeer, epairCount, type LinkConditions, type EpairStats } from "./epair.js";
export { Socket, SocketError, SocketClosedError, socket, sockstat, formatSockstat, sockaddrIn, parseSockaddr, formatSockaddr, AF_INET, AF_INET6, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOL_SOCKET, SO, MSG, type SockAddr, type SockAddrIn, type Datagram, type SockstatRow } from "./socket.js";
export {
  addAddress, delAddress, addresses, addRoute, delRoute, routes, routeGet, netstatRn, setForwarding, forwarding, setIcmpLimit, setIcmpTstampRepl, icmpTstampRepl, arpGcThresh,
  arpTable, arpAn, arpDelete, ipStats, icmpStats, arpStats, netstatS, parseIPv4, formatIPv4,
  type InetAddress, type RouteEntry, type RouteVia, type ArpEntry, type GcThresh, type IpStats, type IcmpStats, type ArpStats,
} from "./inet.js";
export { ping, traceroute, type PingOptions, type PingResult, type PingReply } from "./ping.js";
export { createSocket, DgramSocket, DgramError, type SocketOptions as DgramSocketOptions, type RemoteInfo, type AddressInfo as DgramAddressInfo, type BindOptions as DgramBindOptions } from "./dgram.js";
export { udpStats, netstatUdp, portRange, setPortRange, udpGauges, udpSocketsOpen, sendBatch, recvBatch, UDPSTATS, IPPROTO_UDP, UDP_MAXPAYLOAD, type UdpStats, type UdpDatagram } from "./udp.js";
export {
  tcpStats, netstatSTcp, tcpConnections, netstatAnTcp, tcpState, setNoDelay, setKeepAlive, setCongestion, tcpKnob, maxSockets, IPPROTO_TCP, TCP, TCP_CC,
  TCP_STATES, TCPSTAT_NAMES, type TcpStats, type TcpConnection, type TcpState, type TcpKnob,
} from "./tcp.js";
export {
  netFor, NetSocket, NetServer, netError, createServer as netCreateServer, connect as netConnect,
  type VnetNet, type NetError, type NetSocketOptions, type ConnectOptions as NetConnectOptions, type ServerOptions as NetServerOptions,
  type ListenOptions as NetListenOptions, type AddressInfo as NetAddressInfo,
} from "./net.js";
export * from "./topology/index.js";
export { Commands, CommandError, CommandFailed, type CommandNode, type CommandsOptions } from "./cli/commands.js";
export { createVxlan, VxlanInterface, vxlanCount, vxlanSocketsOpen, parseRemote, VXLAN_PORT, VXLAN_MTU, type VxlanOptions, type VxlanStats } from "./vxlan.js";
export type { HostPort } from "./kernel.js";
