// Node's hooks for the platform-neutral core (host/lib/platform.ts): binaries from build/ on
// disk, files for captures, and the event loop's view of pending host work.
import { createWriteStream, accessSync, constants } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { tmpdir } from "node:os";
import { setPlatform, type Platform } from "../lib/platform.js";
import { nodeModuleSource } from "./wasm_file.js";
import "./topology_vxlan.js"; // VXLAN ports for topologies (node:dgram)
import "./topology_ws.js"; // WebSocket client ports (ws) and listeners for topologies

export const nodePlatform: Platform = {
  name: "node",
  defaultModuleSource: () => nodeModuleSource(),
  openFile: (path) => createWriteStream(path),
  joinPath: (dir, file) => join(dir, file),
  resolvePath: (path) => resolve(path),
  tempDir: () => tmpdir(),
  checkWritable: (path) => {
    const dir = dirname(path);
    try {
      accessSync(dir, constants.W_OK);
      return undefined;
    } catch (e) {
      return { dir, reason: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
    }
  },
  // setImmediate callbacks queued (someone's work is pending): Node lists them as "Immediate".
  hostBusy: () => process.getActiveResourcesInfo().includes("Immediate"),
  // The turn the virtual-time driver waits: an immediate, queued behind the ones hostBusy sees.
  nextTurn: (cb) => void setImmediate(cb),
};

setPlatform(nodePlatform);
