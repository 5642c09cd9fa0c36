// One vxlan_rx_pps run alone (bench/vxlan_rx.ts): a flood from another process into a VXLAN
// port, what the kernel counted and what was dropped where. Run it under
// `node --cpu-prof --import tsx bench/drivers/vxlan_rx.ts [seconds]` to see where the time goes;
// a second argument "main" reads the socket on the main thread (rxThread: false) instead.
import { wavnetRxOnce } from "../vxlan_rx.js";

const r = await wavnetRxOnce(Number(process.argv[2] ?? 3), process.argv[3] !== "main");
console.log(JSON.stringify({ ...r, pps: Math.round(r.pps), sentPps: Math.round(r.sent / r.sendSeconds), portCpu: +(r.cpuSeconds / r.sendSeconds).toFixed(2) }));
