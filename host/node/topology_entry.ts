// wavnet/topology as Node resolves it (the "node" condition): the topology API with Node's
// platform hooks (binaries and capture files from disk, VXLAN ports) and loadTopology(file).
import "./platform.js";
import "./topology_vxlan.js";
import "./topology_ws.js";

export * from "../topology/index.js";
export { loadTopology } from "./topology.js";
