// A second wavnet process for tests/vxlan.test.ts: one vnet with a vxlan interface on
// 127.0.0.1 (10.67.0.2/24) and a TCP echo server on port 7. Protocol on stdio: it prints
// {"port": N} once its socket is bound, reads the parent's port as one line, prints
// {"ready": true}, and shuts down (printing {"leaks": 0}) when stdin ends.
import { createInterface } from "node:readline";
import { Kernel } from "../../host/index.js";
import { addAddress } from "../../host/admin/inet.js";
import { createVxlan } from "../../host/node/vxlan.js";

const k = await Kernel.boot({ clock: "real" });
const v = k.createVnet("peer");
const vx = await createVxlan(k, v, { vni: 6767, remote: "127.0.0.1:9", localPort: 0, localAddress: "127.0.0.1" });
vx.setUp();
addAddress(k, vx, "10.67.0.2/24");
const server = v.net.createServer((s) => s.pipe(s));
server.listen(7, "10.67.0.2");
process.stdout.write(JSON.stringify({ port: vx.localPort }) + "\n");

const rl = createInterface({ input: process.stdin });
rl.once("line", (line) => {
  vx.setRemote(`127.0.0.1:${Number(line)}`);
  process.stdout.write(JSON.stringify({ ready: true }) + "\n");
});
rl.on("close", async () => {
  server.close();
  await new Promise((r) => setTimeout(r, 50));
  let leaks = 0;
  try {
    k.shutdown();
  } catch (e) {
    leaks = (e as { leaks?: unknown[] }).leaks?.length ?? -1;
  }
  await vx.whenClosed();
  process.stdout.write(JSON.stringify({ leaks }) + "\n");
});
