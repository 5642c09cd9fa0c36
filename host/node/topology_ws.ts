// WebSocket ports in Node: client ports use the `ws` package's WebSocket (Node 20 has no
// global one; ws also bounds a message's size, which the web API cannot), and topologies get
// their listeners (host/node/ws_listen.ts) through the core's port registry
// (host/topology/ports.ts). Installed on import.

import { WebSocket as WsWebSocket } from "ws";
import { setWebSocketConstructor, type WebSocketConstructor } from "../wire/websocket.js";
import { setWebSocketListenerFactory } from "../topology/ports.js";
import { WebSocketListener, WS_MAX_MESSAGE } from "./ws_listen.js";

/**
 * ws's WebSocket with the web API's constructor: messages larger than any frame close the
 * connection (1009) before they are buffered, and no compression is offered.
 */
export class NodeWebSocket extends WsWebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols, { maxPayload: WS_MAX_MESSAGE, perMessageDeflate: false });
  }
}

setWebSocketConstructor(NodeWebSocket as unknown as WebSocketConstructor);
setWebSocketListenerFactory((opts) => WebSocketListener.listen(opts));
