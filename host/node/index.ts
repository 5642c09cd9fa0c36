// wavnet/node: what only Node can do, on top of the core: binaries from build/ on disk (the
// default once this is imported), topology and capture files, VXLAN ports on node:dgram,
// WebSocket listeners (and the ws package as the WebSocket of client ports),
// node:net/node:dgram look-alikes on every vnet (`vnet.net`, `vnet.dgram()`), and the CLI's
// command table, and HTTP clients through a vnet (vnetAgent for node:http, vnetDispatcher for
// fetch with the optional peer dependency undici). Importing it installs Node's platform hooks.
import "./platform.js";
import "./vnet_net.js";
import "./topology_vxlan.js";
import "./topology_ws.js";

export { nodeModuleSource, packageRoot } from "./wasm_file.js";
export { nodePlatform } from "./platform.js";
export { loadTopology } from "./topology.js";
export { writePcapFile, writePcapngFile } from "./pcap_files.js";
export { listenWebSocket, WebSocketListener, WS_CLOSE, WS_MAX_MESSAGE, type ListenOptions as WebSocketListenOptions } from "./ws_listen.js";
export { NodeWebSocket } from "./topology_ws.js";
export { createVxlan, VxlanInterface, vxlanCount, vxlanSocketsOpen, parseRemote, VXLAN_PORT, VXLAN_MTU, type VxlanOptions, type VxlanStats } from "./vxlan.js";
export { vxlanRxThread } from "./vxlan_thread.js";
export {
  netFor, NetSocket, NetServer, netError, createServer as netCreateServer, connect as netConnect,
  type VnetNet, type NetError, type NetSocketOptions, type ConnectOptions as NetConnectOptions, type ServerOptions as NetServerOptions,
  type ListenOptions as NetListenOptions, type AddressInfo as NetAddressInfo,
} from "./net.js";
export { createSocket, DgramSocket, DgramError, type SocketOptions as DgramSocketOptions, type RemoteInfo, type AddressInfo as DgramAddressInfo, type BindOptions as DgramBindOptions } from "./dgram.js";
export {
  vnetAgent, VnetAgent, vnetDispatcher, vnetConnector,
  type VnetAgentOptions, type VnetDispatcherOptions, type UndiciConnector, type UndiciConnectOptions, type UndiciModule,
} from "./http_agent.js";
