// Dual-stack socket tests' set-up (tests/udp_v4mapped, tests/tcp_v4mapped) and the errno of a
// socket call that must fail (also the conformance suite's socket cases).
import type { Kernel, Vnet, Socket, Interface } from "../../host/index.js";
import { SocketError } from "../../host/sockets/socket.js";
import { IPPROTO_IPV6, IPV6_V6ONLY } from "../../host/sockets/socket.js";
import { addAddress } from "../../host/admin/inet.js";
import { twoHosts6 } from "./inet6.js";

/** A (fd00::1, 10.0.0.1) and B (fd00::2, 10.0.0.2) on one epair, with the transport given. */
export async function dualPair(transport: "tcp" | "udp"): Promise<{ k: Kernel; A: Vnet; B: Vnet; ea: Interface; eb: Interface }> {
  const { k, A, B, ea, eb } = await twoHosts6(1, ["if_epair", "inet", "inet6", transport]);
  addAddress(k, ea, "10.0.0.1/24");
  addAddress(k, eb, "10.0.0.2/24");
  return { k, A, B, ea, eb };
}

/** An AF_INET6 socket with IPV6_V6ONLY off. */
export function dualSocket(v: Vnet, type: "stream" | "dgram"): Socket {
  const s = v.socket("inet6", type);
  s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0);
  return s;
}

/** The errno name of a socket call that must fail, or "no error". */
export function errnoOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof SocketError) return e.code;
    throw e;
  }
  return "no error";
}
