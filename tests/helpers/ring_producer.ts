// Producer side of tests/scale_ring.test.ts, in a worker: frames i = 0 .. n-1 of length
// 1 + (i * 37) % 1500, every byte (i + j) & 255, arrival time i; published in batches of 7;
// a full ring is retried after the consumer moves.
import { workerData, parentPort } from "node:worker_threads";
import { FrameRing } from "../../host/scale/ring.js";

const { sab, n } = workerData as { sab: SharedArrayBuffer; n: number };
const ring = new FrameRing(sab);
let retries = 0;
for (let i = 0; i < n; i++) {
  const len = 1 + ((i * 37) % 1500);
  const f = new Uint8Array(len);
  for (let j = 0; j < len; j++) f[j] = (i + j) & 255;
  while (!ring.push(f, i)) {
    ring.publish();
    retries++;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 0.05);
  }
  if (i % 7 === 6) ring.publish();
}
ring.publish();
parentPort!.postMessage({ done: true, retries });
