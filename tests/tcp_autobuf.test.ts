// Socket buffer autotuning (assembly/netinet/tcp/tcp_autobuf.ts): over a path with a 40 ms
// RTT (20 ms each way, virtual time) a bulk transfer's buffers grow, so it runs far faster
// than a fixed buffer per RTT allows; SO_SNDBUF / SO_RCVBUF and the knobs turn it off; the
// maxima hold; the window scale requested covers the receive maximum; nothing is left after.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { tcpKnob } from "../host/admin/tcp.js";
import type { Socket } from "../host/sockets/socket.js";
import { tcpHosts, connectPair, pattern, sha256, pump, finishTcp, clock } from "./helpers/tcp.js";
import { snapshot } from "./helpers/snapshot.js";

const SOL_SOCKET = 0xffff;
const SO_SNDBUF = 0x1001;
const SO_RCVBUF = 0x1002;
const RTT_US = 40_000;

async function wan() {
  const h = await tcpHosts(3);
  h.ea.setConditions({ delayUs: RTT_US / 2 });
  h.eb.setConditions({ delayUs: RTT_US / 2 });
  return h;
}

/** Send n bytes cli -> srv, checking every byte; Mbit/s in virtual time and the buffers seen. */
function transfer(k: Parameters<typeof pump>[0], cli: Socket, srv: Socket, n: number) {
  const data = pattern(n, 5);
  let maxSnd = 0;
  let maxRcv = 0;
  const r = pump(k, cli, srv, data, 600_000_000, 0, () => {
    maxSnd = Math.max(maxSnd, cli.getsockopt(SOL_SOCKET, SO_SNDBUF));
    maxRcv = Math.max(maxRcv, srv.getsockopt(SOL_SOCKET, SO_RCVBUF));
    return false;
  });
  assert.equal(r.bytes, n);
  assert.equal(sha256(r.got), sha256(data));
  return { mbps: (n * 8) / r.us, maxSnd, maxRcv, snd: cli.getsockopt(SOL_SOCKET, SO_SNDBUF), rcv: srv.getsockopt(SOL_SOCKET, SO_RCVBUF) };
}

describe("TCP buffer autotuning", () => {
  test("a bulk transfer over a 40 ms RTT grows both buffers and beats sendspace/RTT by far", async () => {
    const { k, A, B } = await wan();
    const { cli, srv, lsn } = connectPair(k, A, B);
    assert.equal(cli.getsockopt(SOL_SOCKET, SO_SNDBUF), 32768, "starts at net.inet.tcp.sendspace");
    assert.equal(srv.getsockopt(SOL_SOCKET, SO_RCVBUF), 65536, "starts at net.inet.tcp.recvspace");
    const r = transfer(k, cli, srv, 16 << 20);
    console.log(`autotuned: ${r.mbps.toFixed(1)} Mbit/s, SO_SNDBUF ${r.snd}, SO_RCVBUF ${r.rcv}`);
    const cap = (32768 * 8) / RTT_US; // 6.5 Mbit/s
    assert.ok(r.mbps > 10 * cap, `${r.mbps.toFixed(1)} Mbit/s > 10 x ${cap.toFixed(1)}`);
    assert.ok(r.snd > 32768 * 4, `send buffer grew: ${r.snd}`);
    assert.ok(r.rcv > 65536 * 4, `receive buffer grew: ${r.rcv}`);
    assert.ok(r.snd <= 2 << 20 && r.rcv <= 2 << 20, "within sendbuf_max / recvbuf_max");
    finishTcp(k, cli, srv, lsn);
  });

  test("SO_SNDBUF / SO_RCVBUF set by the user stop it: the buffers keep their size", async () => {
    const { k, A, B } = await wan();
    const { cli, srv, lsn } = connectPair(k, A, B);
    cli.setsockopt(SOL_SOCKET, SO_SNDBUF, 32768);
    srv.setsockopt(SOL_SOCKET, SO_RCVBUF, 65536);
    const r = transfer(k, cli, srv, 1 << 20);
    console.log(`fixed: ${r.mbps.toFixed(1)} Mbit/s`);
    assert.equal(r.maxSnd, 32768);
    assert.equal(r.maxRcv, 65536);
    // Bound by the buffer per RTT (a little above: the window opens as the reader reads).
    assert.ok(r.mbps < 3 * (65536 * 8) / RTT_US, `${r.mbps.toFixed(1)} Mbit/s`);
    finishTcp(k, cli, srv, lsn);
  });

  test("a size set on the listener holds for the connections it accepts", async () => {
    const { k, A, B } = await wan();
    const { socket } = await import("../host/sockets/socket.js");
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 81);
    lsn.setsockopt(SOL_SOCKET, SO_RCVBUF, 65536);
    lsn.listen(8);
    const cli = socket(k, A, "inet", "stream");
    cli.connect("10.0.0.2", 81);
    let srv: Socket | null = null;
    for (let i = 0; i < 1000 && !srv; i++) {
      srv = lsn.accept();
      if (!srv) clock(k).advance(1000);
    }
    assert.ok(srv);
    const r = transfer(k, cli, srv, 1 << 20);
    assert.ok(r.maxSnd > 32768, "the client's own buffers still grow");
    assert.equal(r.maxRcv, 65536, "the accepted socket inherits the listener's fixed size");
    finishTcp(k, cli, srv, lsn);
  });

  test("the knobs: off keeps the defaults; the maxima hold", async () => {
    const { k, A, B } = await wan();
    assert.equal(tcpKnob(k, A, "sendbuf_auto"), 1);
    assert.equal(tcpKnob(k, B, "recvbuf_auto"), 1);
    assert.equal(tcpKnob(k, A, "sendbuf_max"), 2 << 20);
    assert.equal(tcpKnob(k, B, "recvbuf_max"), 2 << 20);
    assert.throws(() => tcpKnob(k, A, "sendbuf_auto", 2), /sendbuf_auto/);
    assert.throws(() => tcpKnob(k, A, "recvbuf_max", 0), /recvbuf_max/);
    assert.throws(() => tcpKnob(k, A, "sendbuf_max", (2 << 20) + 1), /sendbuf_max/);
    tcpKnob(k, A, "sendbuf_max", 100_000);
    tcpKnob(k, B, "recvbuf_max", 200_000);
    const p1 = connectPair(k, A, B, 80);
    const r1 = transfer(k, p1.cli, p1.srv, 4 << 20);
    assert.ok(r1.maxSnd > 32768 && r1.maxSnd <= 100_000, `send buffer ${r1.maxSnd} grew, at most sendbuf_max`);
    assert.ok(r1.maxRcv > 65536 && r1.maxRcv <= 200_000, `receive buffer ${r1.maxRcv} grew, at most recvbuf_max`);
    tcpKnob(k, A, "sendbuf_auto", 0);
    tcpKnob(k, B, "recvbuf_auto", 0);
    const p2 = connectPair(k, A, B, 90);
    const r2 = transfer(k, p2.cli, p2.srv, 1 << 20);
    assert.equal(r2.maxSnd, 32768);
    assert.equal(r2.maxRcv, 65536);
    finishTcp(k, p1.cli, p1.srv, p1.lsn, p2.cli, p2.srv, p2.lsn);
  });

  test("the SYN asks for the window scale recvbuf_max needs (6 by default, as FreeBSD from sb_max), 1 for 64 KiB without autotuning", async () => {
    const { k, A, B, ea } = await wan();
    const synScale = async (port: number): Promise<number> => {
      const cap = ea.capture();
      const it = cap[Symbol.asyncIterator]();
      const p = connectPair(k, A, B, port);
      let ws = -1;
      while (ws < 0) {
        const fr = (await it.next()).value;
        if (fr.dir !== "out") continue;
        const f = fr.data as Uint8Array;
        if (f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 6) continue; // not IPv4 TCP (ARP first)
        const tcp = f.subarray(14 + (f[14] & 15) * 4);
        if ((tcp[13] & 0x02) === 0) continue; // not the SYN
        for (let o = 20; o < (tcp[12] >> 4) * 4; ) {
          if (tcp[o] === 0) break;
          if (tcp[o] === 1) { o++; continue; }
          if (tcp[o] === 3) ws = tcp[o + 2];
          o += tcp[o + 1] || 1;
        }
        assert.ok(ws >= 0, "the SYN carries a window scale option");
      }
      await cap.stop();
      p.cli.close(); p.srv.close(); p.lsn.close();
      return ws;
    };
    assert.equal(await synScale(80), 6);
    tcpKnob(k, A, "recvbuf_max", 200_000); // 65535 << 2 covers it
    assert.equal(await synScale(81), 2);
    tcpKnob(k, A, "recvbuf_auto", 0);
    assert.equal(await synScale(82), 1);
    finishTcp(k);
  });

  test("memory is all returned after the grown connections close", async () => {
    const { k, A, B } = await wan();
    const w = connectPair(k, A, B, 79); // ARP and routes settled first
    w.cli.close(); w.srv.close(); w.lsn.close();
    clock(k).runUntilIdle(200_000_000);
    k.reclaim();
    const before = snapshot(k);
    const { cli, srv, lsn } = connectPair(k, A, B);
    const r = transfer(k, cli, srv, 8 << 20);
    assert.ok(r.snd > 32768 && r.rcv > 65536);
    cli.close(); srv.close(); lsn.close();
    clock(k).runUntilIdle(200_000_000);
    k.reclaim();
    assert.deepEqual(snapshot(k), before);
    k.shutdown();
  });
});
