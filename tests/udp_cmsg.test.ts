import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, type Vnet } from "../host/index.js";
import { suiteConfig } from "./helpers/config.js";
import { socket, Socket, SocketError, SOL_SOCKET, SO } from "../host/sockets/socket.js";
import { addAddress, addRoute } from "../host/admin/inet.js";
import { sendmsg, recvmsg, IPPROTO_IP, IP_RECVDSTADDR, IP_SENDSRCADDR } from "../host/admin/udp.js";
import { mbufsInUse, twoHosts as inetTwoHosts } from "./helpers/inet.js";

// sendmsg/recvmsg with control messages on UDP sockets (docs/udp-cmsg.md): IP_SENDSRCADDR
// picks one datagram's source, IP_RECVDSTADDR reports each datagram's destination. The
// errors and their order are FreeBSD's udp_output.

const UDP4_CONFIG = () => suiteConfig(["if_epair", "inet", "udp"], ["if_epair", "inet", "udp"]);

/** A 10.0.0.1/24 (and 10.0.0.11 as a second address) on ea, B 10.0.0.2/24 on eb, with udp. */
async function hosts() {
  const h = await inetTwoHosts(1, UDP4_CONFIG());
  addAddress(h.k, h.ea, "10.0.0.11/24");
  return h;
}

function udpSock(k: Kernel, v: Vnet, address?: string, port?: number): Socket {
  const s = socket(k, v, "inet", "dgram", 17);
  if (address !== undefined) s.bind(address, port ?? 0);
  return s;
}

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof SocketError) return e.code;
    throw e;
  }
  return "ok";
}

/** One control record in wavnet's layout: [len u32][level i32][type i32][data]. */
function cmsg(level: number, type: number, data: Uint8Array, len = 12 + data.length): Uint8Array {
  const b = new Uint8Array((12 + data.length + 3) & ~3);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, len, true);
  dv.setInt32(4, level, true);
  dv.setInt32(8, type, true);
  b.set(data, 12);
  return b;
}

describe("udp control messages", () => {
  test("IP_SENDSRCADDR: each datagram leaves from the address it names, on the socket's port; the socket's own binding is unchanged", async () => {
    const { k, A, B } = await hosts();
    const srv = udpSock(k, B, "0.0.0.0", 7);
    const s = udpSock(k, A, "0.0.0.0", 5000);
    for (const src of ["10.0.0.11", "10.0.0.1", "10.0.0.11"]) {
      assert.equal(sendmsg(k, s, bytes(src), { address: "10.0.0.2", port: 7, srcAddress: src }), src.length);
      const d = srv.recvfrom()!;
      assert.equal(text(d.data), src);
      assert.deepEqual(d.address, { family: "inet", address: src, port: 5000 });
    }
    assert.deepEqual(s.address(), { family: "inet", address: "0.0.0.0", port: 5000 });
    // Without a control message the route picks, as before.
    assert.equal(sendmsg(k, s, bytes("plain"), { address: "10.0.0.2", port: 7 }), 5);
    assert.equal((srv.recvfrom()!.address as { address: string }).address, "10.0.0.1");
    k.shutdown();
  });

  test("IP_SENDSRCADDR on a connected socket overrides the address connect chose", async () => {
    const { k, A, B } = await hosts();
    const srv = udpSock(k, B, "0.0.0.0", 7);
    const s = udpSock(k, A);
    s.connect("10.0.0.2", 7);
    assert.equal(sendmsg(k, s, bytes("x"), { srcAddress: "10.0.0.11" }), 1);
    assert.equal((srv.recvfrom()!.address as { address: string }).address, "10.0.0.11");
    k.shutdown();
  });

  test("IP_SENDSRCADDR errors in FreeBSD's order: EINVAL unbound (before the destination is looked at), EINVAL wildcard with wildcard, EADDRNOTAVAIL not ours", async () => {
    const { k, A } = await hosts();
    const s = udpSock(k, A);
    assert.equal(code(() => sendmsg(k, s, bytes("x"), { address: "0.0.0.0", port: 0, srcAddress: "10.0.0.1" })), "EINVAL", "no local port");
    assert.equal(code(() => s.sendto("x", "0.0.0.0", 0)), "EADDRNOTAVAIL", "without the message, the same send fails on its port 0");
    s.bind("0.0.0.0", 0);
    assert.equal(code(() => sendmsg(k, s, bytes("x"), { address: "10.0.0.2", port: 7, srcAddress: "0.0.0.0" })), "EINVAL", "no address on either side");
    assert.equal(code(() => sendmsg(k, s, bytes("x"), { address: "10.0.0.2", port: 7, srcAddress: "10.0.0.99" })), "EADDRNOTAVAIL", "not an address of this vnet");
    const b = udpSock(k, A, "10.0.0.1", 0);
    assert.equal(code(() => sendmsg(k, b, bytes("x"), { address: "10.0.0.2", port: 7, srcAddress: "0.0.0.0" })), "ok", "the socket's address is enough");
    k.shutdown();
  });

  test("malformed control is refused whole: short record, length past the end, wrong IP_SENDSRCADDR size, unknown IPPROTO_IP type, too much; other levels are skipped", async () => {
    const { k, A, B } = await hosts();
    const srv = udpSock(k, B, "0.0.0.0", 7);
    const s = udpSock(k, A, "0.0.0.0", 0);
    const to = { address: "10.0.0.2", port: 7 };
    const addr = Uint8Array.of(10, 0, 0, 11);
    assert.equal(code(() => sendmsg(k, s, bytes("x"), { ...to, control: new Uint8Array(8) })), "EINVAL", "shorter than a header");
    // Records of another level (skipped when well formed), so only the length check can refuse them.
    assert.equal(code(() => sendmsg(k, s, bytes("x"), { ...to, control: cmsg(0xffff, 1, addr, 40) })), "EINVAL", "cmsg_len past the end");
    // cmsg_len 4: were it taken, the next "record" at offset 4 would be [12][0xffff][1], well formed.
    const under = new Uint8Array(16);
    new Uint32Array(under.buffer).set([4, 12, 0xffff, 1]);
    assert.equal(code(() => sendmsg(k, s, bytes("x"), { ...to, control: under })), "EINVAL", "cmsg_len under the header");
    assert.equal(code(() => sendmsg(k, s, bytes("x"), { ...to, control: cmsg(IPPROTO_IP, IP_SENDSRCADDR, Uint8Array.of(10, 0, 0, 11, 0, 0, 0, 0)) })), "EINVAL", "8 bytes of address");
    assert.equal(code(() => sendmsg(k, s, bytes("x"), { ...to, control: cmsg(IPPROTO_IP, 99, addr) })), "ENOPROTOOPT", "an IPPROTO_IP type UDP does not know");
    const many = new Uint8Array(240); // 20 well-formed records of another level: 240 bytes
    for (let i = 0; i < 20; i++) many.set(cmsg(0xffff, 1, new Uint8Array(0)), i * 12);
    assert.equal(code(() => sendmsg(k, s, bytes("x"), { ...to, control: many })), "EINVAL", "more than one mbuf (224 bytes)");
    assert.equal(sendmsg(k, s, bytes("x"), { ...to, control: many.subarray(0, 216) }), 1, "18 of them fit");
    assert.equal(text(srv.recvfrom()!.data), "x");
    assert.equal(srv.recvfrom(), null, "nothing went");
    // A record of another level, then the source: the first is skipped, the second used.
    const two = new Uint8Array([...cmsg(0xffff, 1, Uint8Array.of(1, 2, 3)), ...cmsg(IPPROTO_IP, IP_SENDSRCADDR, addr)]);
    assert.equal(sendmsg(k, s, bytes("y"), { ...to, control: two }), 1);
    assert.equal((srv.recvfrom()!.address as { address: string }).address, "10.0.0.11");
    k.shutdown();
  });

  test("IP_RECVDSTADDR: off, no destination; on, each datagram's own (unicast to either address, subnet and limited broadcast, every broadcast copy); getsockopt says which", async () => {
    const { k, A, B } = await hosts();
    const rx = [udpSock(k, A), udpSock(k, A)];
    for (const x of rx) {
      x.setsockopt(SOL_SOCKET, SO.REUSEPORT, true);
      x.bind("0.0.0.0", 9);
    }
    addRoute(k, B, "default", { gateway: "10.0.0.1" }); // 255.255.255.255 leaves by the default route
    const tx = udpSock(k, B);
    tx.setsockopt(SOL_SOCKET, SO.BROADCAST, true);
    tx.sendto("before", "10.0.0.1", 9);
    assert.equal(rx[0].getsockopt(IPPROTO_IP, IP_RECVDSTADDR), 0);
    for (const x of rx) x.setsockopt(IPPROTO_IP, IP_RECVDSTADDR, 1);
    assert.equal(rx[0].getsockopt(IPPROTO_IP, IP_RECVDSTADDR), 1);
    // A unicast datagram goes to one of the two sockets sharing the port.
    const one = () => recvmsg(k, rx[0]) ?? recvmsg(k, rx[1]);
    const first = one()!;
    assert.equal(text(first.data), "before");
    assert.equal(first.dstAddress, undefined, "the option was off when it arrived");
    for (const dst of ["10.0.0.1", "10.0.0.11"]) {
      tx.sendto(dst, dst, 9);
      const m = one()!;
      assert.deepEqual([text(m.data), m.dstAddress, m.address, m.port], [dst, dst, "10.0.0.2", (tx.address() as { port: number }).port]);
    }
    for (const dst of ["10.0.0.255", "255.255.255.255"]) {
      tx.sendto("b", dst, 9);
      for (const x of rx) assert.equal(recvmsg(k, x)!.dstAddress, dst, `each copy of a broadcast to ${dst}`);
    }
    for (const x of rx) x.setsockopt(IPPROTO_IP, IP_RECVDSTADDR, 0);
    tx.sendto("after", "10.0.0.1", 9);
    const last = one()!;
    assert.deepEqual([text(last.data), last.dstAddress], ["after", undefined]);
    assert.equal(one(), null);
    k.shutdown();
  });

  test("recvmsg: MSG_TRUNC and the sender as recvfrom gives them; null when nothing is queued", async () => {
    const { k, A, B } = await hosts();
    const rx = udpSock(k, A, "0.0.0.0", 9);
    rx.setsockopt(IPPROTO_IP, IP_RECVDSTADDR, 1);
    const tx = udpSock(k, B, "0.0.0.0", 4000);
    tx.sendto("0123456789", "10.0.0.11", 9);
    const m = recvmsg(k, rx, 4)!;
    assert.deepEqual([text(m.data), m.truncated, m.address, m.port, m.dstAddress], ["0123", true, "10.0.0.2", 4000, "10.0.0.11"]);
    assert.equal(recvmsg(k, rx), null);
    k.shutdown();
  });

  test("sendmsg and recvmsg leave nothing behind: vnets destroyed, no mbuf in use", async () => {
    const { k, A, B } = await hosts();
    const rx = udpSock(k, A, "0.0.0.0", 9);
    rx.setsockopt(IPPROTO_IP, IP_RECVDSTADDR, 1);
    const tx = udpSock(k, B, "0.0.0.0", 0);
    for (let i = 0; i < 5; i++) sendmsg(k, tx, bytes("q"), { address: "10.0.0.1", port: 9, srcAddress: "10.0.0.2" });
    assert.equal(code(() => sendmsg(k, tx, bytes("q"), { address: "10.0.0.1", port: 9, control: new Uint8Array(8) })), "EINVAL");
    recvmsg(k, rx);
    A.destroy();
    B.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});
