import { in_cksum_buf, in_cksum, in_pseudo, in_cksum_update, in_delayed_cksum_value, in6_pseudo } from "../net/in_cksum";
import { CSUM_UDP, CSUM_TCP, CSUM_UDP_IPV6, CSUM_TCP_IPV6 } from "../sys/mbuf";
import { m_gethdr, m_get, m_append, m_freem, mbuf_boot } from "../kern/uipc_mbuf";
import { vnet_section_set_size } from "../kern/vnet_data";
import { vnet_boot } from "../kern/vnet";

let booted = false;
function boot(): void {
  if (booted) return;
  booted = true;
  vnet_section_set_size(8192);
  vnet_boot();
  mbuf_boot();
}

// RFC 1071 section 3's example bytes: 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, checksum 220d.
const rfc = memory.data<u8>([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
// A real IPv4 header (checksum field zeroed): 45 00 00 73 00 00 40 00 40 11 .. .. c0 a8 00 01 c0 a8 00 c7; checksum b861.
const iph = memory.data<u8>([0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7]);

describe("Internet checksum", () => {
  test("RFC 1071's worked example", () => {
    expect(in_cksum_buf(rfc, 8)).toBe(0x220d);
  });

  test("a real IPv4 header checksums to b861, and to 0 with the checksum in place", () => {
    expect(in_cksum_buf(iph, 20)).toBe(0xb861);
    const copy = memory.data(20);
    memory.copy(copy, iph, 20);
    store<u16>(copy + 10, bswap<u16>(0xb861));
    expect(in_cksum_buf(copy, 20)).toBe(0);
  });

  test("the sum over an mbuf chain split at odd offsets equals the flat sum", () => {
    boot();
    const data = memory.data(301);
    for (let i = 0; i < 301; i++) store<u8>(data + i, <u8>(i * 7 + 3));
    const flat = in_cksum_buf(data, 301);
    for (let cut = 1; cut < 40; cut += 3) {
      const m = m_gethdr(1);
      m_append(m, cut, data);
      const n = m_get(1);
      m_append(n, 301 - cut, data + cut);
      // link n after m by hand (no pkthdr change needed for the sum)
      store<usize>(m, n);
      expect(<u16>in_cksum(m, 0, 301, 0)).toBe(flat);
      expect(<u16>in_cksum(m, 5, 200, 0)).toBe(in_cksum_buf(data + 5, 200));
      m_freem(m);
    }
  });

  test("a range past the chain's end is reported, not read", () => {
    boot();
    const m = m_gethdr(1);
    m_append(m, 10, rfc);
    expect(in_cksum(m, 0, 11, 0)).toBe(0x10000);
    m_freem(m);
  });

  test("pseudo-header sum and RFC 1624 incremental update agree with a full recompute", () => {
    expect(in_pseudo(0xc0a80001, 0xc0a800c7, 17, 0x5f)).toBe((0xc0a8 + 0x0001 + 0xc0a8 + 0x00c7 + 17 + 0x5f) % 0xffff);
    // Decrement TTL 0x40 -> 0x3f in the header: the word at offset 8 is (ttl << 8 | proto).
    const copy = memory.data(20);
    memory.copy(copy, iph, 20);
    store<u16>(copy + 10, bswap<u16>(0xb861));
    store<u8>(copy + 8, 0x3f);
    const updated = in_cksum_update(0xb861, 0x4011, 0x3f11);
    store<u16>(copy + 10, 0);
    expect(updated).toBe(in_cksum_buf(copy, 20));
  });

  test("a delayed checksum (pseudo-header sum in the field) finishes to what a full computation gives, across mbufs", () => {
    boot();
    // The IPv4 header above (UDP, 115 bytes, 192.168.0.1 -> 192.168.0.199), 95 bytes of UDP behind it.
    const pkt = memory.data(115);
    memory.copy(pkt, iph, 20);
    for (let i: u32 = 20; i < 115; i++) store<u8>(pkt + i, <u8>(i * 13 + 1));
    store<u16>(pkt + 24, bswap<u16>(95)); // uh_ulen
    store<u16>(pkt + 26, 0);
    // The reference: checksum over pseudo-header + datagram with the field zero.
    const m0 = m_gethdr(1);
    m_append(m0, 115, pkt);
    const want = in_cksum(m0, 20, 95, in_pseudo(0xc0a80001, 0xc0a800c7, 17, 95));
    m_freem(m0);
    // Delayed: the field holds the pseudo-header sum; the packet split at an odd offset.
    store<u16>(pkt + 26, bswap<u16>(<u16>in_pseudo(0xc0a80001, 0xc0a800c7, 17, 95)));
    const m = m_gethdr(1);
    m_append(m, 33, pkt);
    const n = m_get(1);
    m_append(n, 82, pkt + 33);
    store<usize>(m, n);
    const v = in_delayed_cksum_value(m, 0, CSUM_UDP);
    expect(v >> 16).toBe(26);
    expect(v & 0xffff).toBe(want);
    // Not asked: nothing.
    expect(in_delayed_cksum_value(m, 0, 0)).toBe(0);
    // A fragment (MF set) cannot be finished from its own bytes: nothing.
    store<u16>(load<usize>(m + 8) + 6, bswap<u16>(0x2000)); // m_data + ip_off
    expect(in_delayed_cksum_value(m, 0, CSUM_TCP)).toBe(0);
    m_freem(m);
  });

  it("finds an IPv6 transport checksum behind hop-by-hop and destination options, and refuses a fragment", () => {
    boot();
    // fd00::1 -> fd00::2, hop-by-hop (8 bytes) then destination options (16 bytes) then UDP (8 + 37).
    const total: u32 = 40 + 8 + 16 + 45;
    const pkt = memory.data(109);
    memory.fill(pkt, 0, total);
    store<u8>(pkt, 0x60);
    store<u16>(pkt + 4, bswap<u16>(<u16>(total - 40)));
    store<u8>(pkt + 6, 0); // hop-by-hop
    store<u8>(pkt + 7, 64);
    store<u8>(pkt + 8, 0xfd);
    store<u8>(pkt + 23, 1);
    store<u8>(pkt + 24, 0xfd);
    store<u8>(pkt + 39, 2);
    store<u8>(pkt + 40, 60); // next: destination options
    store<u8>(pkt + 41, 0); // 8 bytes
    store<u8>(pkt + 48, 17); // next: UDP
    store<u8>(pkt + 49, 1); // 16 bytes
    const uh = pkt + 64;
    store<u16>(uh, bswap<u16>(9));
    store<u16>(uh + 2, bswap<u16>(7));
    store<u16>(uh + 4, bswap<u16>(45));
    for (let i: u32 = 8; i < 45; i++) store<u8>(uh + i, <u8>(i * 7 + 3));
    const m0 = m_gethdr(1);
    m_append(m0, total, pkt);
    const want = in_cksum(m0, 64, 45, in6_pseudo(pkt + 8, pkt + 24, 17, 45));
    m_freem(m0);
    store<u16>(uh + 6, bswap<u16>(<u16>in6_pseudo(pkt + 8, pkt + 24, 17, 45)));
    const m = m_gethdr(1);
    m_append(m, 51, pkt); // split inside the destination options header
    const n = m_get(1);
    m_append(n, total - 51, pkt + 51);
    store<usize>(m, n);
    const v = in_delayed_cksum_value(m, 0, CSUM_UDP_IPV6);
    expect(v >> 16).toBe(64 + 6);
    expect(v & 0xffff).toBe(want == 0 ? 0xffff : want);
    // Asked as TCP: the transport found is UDP, so nothing.
    expect(in_delayed_cksum_value(m, 0, CSUM_TCP_IPV6)).toBe(0);
    m_freem(m);
    // A fragment header in the chain: the value cannot be right there, so nothing.
    store<u8>(pkt + 48, 44);
    const f = m_gethdr(1);
    m_append(f, total, pkt);
    expect(in_delayed_cksum_value(f, 0, CSUM_UDP_IPV6)).toBe(0);
    m_freem(f);
  });
});
