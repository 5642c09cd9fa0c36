// wavnet: many network stacks in one WebAssembly kernel.
export { Kernel, Vnet, type BootOptions, type ZoneRow, type Accounting, type VnetAccounting, type KernelExports } from "./kern/kernel.js";
export { VirtualClock, RealClock, type Clock } from "./kern/clock.js";
export type { KldStat, ModuleSource } from "./kern/linker.js";
export * from "./lib/errors.js";
export { Interface, InterfaceGoneError, parseMac, formatMac, flagNames, ETHERSTATS, IFCAP, CSUM, type IfCounters, type EtherStats } from "./admin/ifnet.js";
export { PcapWriter, PcapngWriter, writePcapFile, writePcapngFile, readPcap, readPcapng, loopbackHeader, LINKTYPE_ETHERNET, LINKTYPE_NULL, MAX_SNAPLEN, type PcapPacket, type PcapngInterface, type PcapngStats } from "./capture/pcap.js";
export { Capture, PcapngSink, CaptureRecordError, parseRecords, ringRecords, encodeRecords, type Frame, type CaptureOptions, type RingRecord } from "./capture/capture.js";
export { LiveCapture, type CaptureStartOptions } from "./capture/tap.js";
export * from "./admin/bridge.js";
export { epairConditions, clearConditions, getConditions, epairStats, epairPeer, epairCount, type LinkConditions, type EpairStats } from "./admin/epair.js";
export { Socket, SocketError, SocketClosedError, socket, sockstat, formatSockstat, sockaddrIn, parseSockaddr, formatSockaddr, AF_INET, AF_INET6, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOL_SOCKET, SO, MSG, type SockAddr, type SockAddrIn, type Datagram, type SockstatRow } from "./sockets/socket.js";
export {
  addAddress, delAddress, addresses, addRoute, delRoute, routes, routeGet, netstatRn, setForwarding, forwarding, setIcmpLimit,
  arpTable, arpAn, arpDelete, ipStats, icmpStats, arpStats, netstatS, parseIPv4, formatIPv4,
  type InetAddress, type RouteEntry, type RouteVia, type ArpEntry, type IpStats, type IcmpStats, type ArpStats,
} from "./admin/inet.js";
export { ping, traceroute, type PingOptions, type PingResult, type PingReply } from "./admin/ping.js";
export { createSocket, DgramSocket, DgramError, type SocketOptions as DgramSocketOptions, type RemoteInfo, type AddressInfo as DgramAddressInfo, type BindOptions as DgramBindOptions } from "./sockets/dgram.js";
export { udpStats, netstatUdp, portRange, setPortRange, udpGauges, udpSocketsOpen, sendBatch, recvBatch, UDPSTATS, IPPROTO_UDP, UDP_MAXPAYLOAD, type UdpStats, type UdpDatagram } from "./admin/udp.js";
export {
  tcpStats, netstatSTcp, tcpConnections, netstatAnTcp, tcpState, setNoDelay, setKeepAlive, setCongestion, tcpKnob, maxSockets, IPPROTO_TCP, TCP, TCP_CC,
  TCP_STATES, TCPSTAT_NAMES, type TcpStats, type TcpConnection, type TcpState, type TcpKnob,
} from "./admin/tcp.js";
export {
  netFor, NetSocket, NetServer, netError, createServer as netCreateServer, connect as netConnect,
  type VnetNet, type NetError, type NetSocketOptions, type ConnectOptions as NetConnectOptions, type ServerOptions as NetServerOptions,
  type ListenOptions as NetListenOptions, type AddressInfo as NetAddressInfo,
} from "./sockets/net.js";
export * from "./topology/index.js";
export { loadTopology } from "./node/topology.js";
export { Commands, CommandError, CommandFailed, type CommandNode, type CommandsOptions } from "./cli/commands.js";
export { createVxlan, VxlanInterface, vxlanCount, vxlanSocketsOpen, parseRemote, VXLAN_PORT, VXLAN_MTU, type VxlanOptions, type VxlanStats } from "./node/vxlan.js";
export type { HostPort } from "./kern/kernel.js";
