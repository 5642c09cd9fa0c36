import {
  Mbuf, MLEN, MHLEN, MSIZE, MCLBYTES, MJUMPAGESIZE, MJUM9BYTES, MJUM16BYTES, M_PKTDAT_OFF, M_DAT_OFF,
  M_EXT_OFF, M_PKTHDR_OFF, M_EXT, M_PKTHDR, M_RDONLY, M_BCAST, MT_DATA, MT_HEADER, M_COPYALL,
  EXT_CLUSTER, EXT_JUMBOP, EXT_JUMBO9, EXT_JUMBO16, CSUM_L4_VALID, mtod, M_START, M_SIZE,
  M_WRITABLE, M_LEADINGSPACE, M_TRAILINGSPACE, m_extrefcnt,
  MBZ_MBUF, MBZ_CLUSTER, MBZ_JUMBOP, MBZ_JUMBO9, MBZ_JUMBO16, MBZ_EXTREF, MBZ_COUNT,
  MBS_DROPS, MBS_BADARGS, MBS_BADFREE, MBS_PULLUP_FAIL, MBS_COPY_FAIL, MBS_CHARGE_FAIL,
  MBS_NOTWRITABLE, MBS_SHARED, MBS_ORPHANS, MBUF_VNET_MBUFS, MBUF_VNET_CLUSTERS,
} from "../sys/mbuf";
import {
  mbuf_boot, mbuf_zone, mbuf_stat, mbuf_set_vnet_limit, mbuf_set_vnet_zlimit, mbuf_vnet_inuse,
  mbuf_vnet_fails, m_get, m_gethdr, m_getcl, m_getjcl, m_cljget, m_free, m_freem, m_pullup,
  m_prepend, M_PREPEND, m_adj, m_split, m_copym, m_copydata, m_copyback, m_append, m_cat,
  m_catpkt, m_length, m_dup, m_chargeto, m_align, m_fixhdr,
} from "../kern/uipc_mbuf";
import { Zone, ZR_LIMIT, zone_drain_all } from "../kern/zone";
import { kmem_pages_inuse } from "../kern/kmem";
import { vnet_section_set_size } from "../kern/vnet_data";
import { vnet_boot, vnet_alloc, vnet_destroy, vnet_vnet0, vnet_valid, vnet_zombies, curvnet, CURVNET_SET, CURVNET_RESTORE, Vnet } from "../kern/vnet";

// Unit tests of kern/uipc_mbuf.ts. Every test ends with expectClean(): whatever a test
// allocates it frees, so every mbuf zone is back to zero items (the leak check).

let booted = false;
function boot(): void {
  if (booted) return;
  booted = true;
  assert(vnet_section_set_size(8192) == 0);
  assert(vnet_boot() == 0);
  assert(mbuf_boot() == 0);
}
// Boot inside the tests, not at the top level: as-pect's allocator must claim its memory
// before kmem grows any (see tlsf_first.include.ts).

const SRC = memory.data(65536, 16);
const DST = memory.data(65536, 16);

@inline function pat(i: i32, seed: u32): u8 {
  return <u8>((<u32>i * 7 + seed) & 0xff);
}

/** SRC filled with the pattern of seed, n bytes. */
function src(n: i32, seed: u32): usize {
  for (let i = 0; i < n; i++) store<u8>(SRC + <usize>i, pat(i, seed));
  return SRC;
}

/** True if bytes [off, off + len) of the chain are pattern bytes [poff, poff + len). */
function holds(m: usize, off: i32, len: i32, seed: u32, poff: i32): bool {
  memory.fill(DST, 0xee, <usize>len);
  if (!m_copydata(m, off, len, DST)) return false;
  for (let i = 0; i < len; i++) {
    if (load<u8>(DST + <usize>i) != pat(poff + i, seed)) return false;
  }
  return true;
}

/** A packet of pattern bytes in plain mbufs of the given lengths (the first one a header mbuf). */
function chainOf(lens: StaticArray<i32>, seed: u32): usize {
  const h = m_gethdr(MT_DATA);
  let last = h;
  let p = 0;
  for (let i = 0; i < lens.length; i++) {
    const m = i == 0 ? h : m_get(MT_DATA);
    const mm = changetype<Mbuf>(m);
    src(p + lens[i], seed);
    memory.copy(mtod(m), SRC + <usize>p, <usize>lens[i]);
    mm.m_len = lens[i];
    p += lens[i];
    if (i > 0) {
      changetype<Mbuf>(last).m_next = m;
      last = m;
    }
  }
  changetype<Mbuf>(h).ph_len = p;
  return h;
}

function inuse(which: u32): u32 {
  return changetype<Zone>(mbuf_zone(which)).inuse;
}

function count(m: usize): i32 {
  let n = 0;
  for (; m != 0; m = changetype<Mbuf>(m).m_next) n++;
  return n;
}

function nth(m: usize, i: i32): Mbuf {
  while (i-- > 0) m = changetype<Mbuf>(m).m_next;
  return changetype<Mbuf>(m);
}

/** Every test ends here: no item left in any mbuf zone, curvnet restored. */
function expectClean(): void {
  for (let i: u32 = 0; i < MBZ_COUNT; i++) expect(inuse(i)).toBe(0, "items left in mbuf zone " + i.toString());
  expect(curvnet()).toBe(vnet_vnet0());
}

describe("mbuf layout", () => {
  test("MLEN and MHLEN follow from the 32-byte m_hdr and 48-byte m_pkthdr", () => {
    boot();
    expect(MSIZE).toBe(256);
    expect(M_DAT_OFF).toBe(32);
    expect(M_PKTHDR_OFF).toBe(32);
    expect(M_PKTDAT_OFF).toBe(80);
    expect(M_EXT_OFF).toBe(80);
    expect(MLEN).toBe(224);
    expect(MHLEN).toBe(176);
    expect(offsetof<Mbuf>("ext_ref")).toBe(92);
    expectClean();
  });

  test("mbuf_boot creates the zones with the mbuf and cluster sizes and is idempotent", () => {
    boot();
    expect(mbuf_boot()).toBe(0);
    expect(changetype<Zone>(mbuf_zone(MBZ_MBUF)).size).toBe(MSIZE);
    expect(changetype<Zone>(mbuf_zone(MBZ_CLUSTER)).size).toBe(MCLBYTES);
    expect(changetype<Zone>(mbuf_zone(MBZ_JUMBOP)).size).toBe(MJUMPAGESIZE);
    expect(changetype<Zone>(mbuf_zone(MBZ_JUMBO9)).size).toBe(MJUM9BYTES);
    expect(changetype<Zone>(mbuf_zone(MBZ_JUMBO16)).size).toBe(MJUM16BYTES);
    expect(mbuf_zone(MBZ_COUNT)).toBe(0);
    expectClean();
  });
});

describe("m_get, m_gethdr, m_getcl, m_free", () => {
  test("m_get returns an empty mbuf charged to curvnet with MLEN bytes of room", () => {
    boot();
    const v0 = vnet_vnet0();
    const before = mbuf_vnet_inuse(v0, MBZ_MBUF);
    const m = m_get(MT_DATA);
    expect(m).toBeGreaterThan(0);
    const mm = changetype<Mbuf>(m);
    expect(mm.m_next).toBe(0);
    expect(mm.m_nextpkt).toBe(0);
    expect(mm.m_len).toBe(0);
    expect(mm.m_flags).toBe(0);
    expect(mm.m_type).toBe(MT_DATA);
    expect(mm.m_vnet).toBe(v0);
    expect(mtod(m)).toBe(m + M_DAT_OFF);
    expect(M_TRAILINGSPACE(m)).toBe(<i32>MLEN);
    expect(M_LEADINGSPACE(m)).toBe(0);
    expect(M_WRITABLE(m)).toBe(true);
    expect(mbuf_vnet_inuse(v0, MBZ_MBUF)).toBe(before + 1);
    expect(m_free(m)).toBe(0);
    expect(mbuf_vnet_inuse(v0, MBZ_MBUF)).toBe(before);
    expectClean();
  });

  test("m_gethdr has a zeroed packet header, MHLEN bytes of room and ph_vnet = curvnet", () => {
    boot();
    const m = m_gethdr(MT_HEADER);
    const mm = changetype<Mbuf>(m);
    expect(mm.m_flags).toBe(M_PKTHDR);
    expect(mtod(m)).toBe(m + M_PKTDAT_OFF);
    expect(mm.ph_len).toBe(0);
    expect(mm.ph_rcvif).toBe(0);
    expect(mm.ph_csum_flags).toBe(0);
    expect(mm.ph_flowid).toBe(0);
    expect(mm.ph_vnet).toBe(vnet_vnet0());
    expect(M_TRAILINGSPACE(m)).toBe(<i32>MHLEN);
    m_free(m);
    expectClean();
  });

  test("m_free returns the next mbuf of the chain", () => {
    boot();
    const a = m_get(MT_DATA);
    const b = m_get(MT_DATA);
    changetype<Mbuf>(a).m_next = b;
    expect(m_free(a)).toBe(b);
    expect(m_free(b)).toBe(0);
    expect(m_free(0)).toBe(0);
    expectClean();
  });

  test("m_getcl attaches an unshared 2 KiB cluster; m_free releases both", () => {
    boot();
    const m = m_getcl(MT_DATA, M_PKTHDR);
    const mm = changetype<Mbuf>(m);
    expect(mm.m_flags).toBe(M_PKTHDR | M_EXT);
    expect(mm.ext_size).toBe(MCLBYTES);
    expect(mm.ext_type).toBe(EXT_CLUSTER);
    expect(mm.ext_ref).toBe(0);
    expect(mtod(m)).toBe(mm.ext_buf);
    expect(M_START(m)).toBe(mm.ext_buf);
    expect(M_SIZE(m)).toBe(MCLBYTES);
    expect(M_TRAILINGSPACE(m)).toBe(<i32>MCLBYTES);
    expect(m_extrefcnt(m)).toBe(1);
    expect(inuse(MBZ_CLUSTER)).toBe(1);
    expect(inuse(MBZ_MBUF)).toBe(1);
    m_free(m);
    expectClean();
  });

  test("m_getjcl picks the smallest cluster that holds size and refuses above 16 KiB", () => {
    boot();
    const sizes: StaticArray<u32> = [1, MCLBYTES, MCLBYTES + 1, MJUMPAGESIZE, MJUMPAGESIZE + 1, MJUM9BYTES, MJUM9BYTES + 1, MJUM16BYTES];
    const types: StaticArray<u16> = [EXT_CLUSTER, EXT_CLUSTER, EXT_JUMBOP, EXT_JUMBOP, EXT_JUMBO9, EXT_JUMBO9, EXT_JUMBO16, EXT_JUMBO16];
    for (let i = 0; i < sizes.length; i++) {
      const m = m_getjcl(MT_DATA, 0, sizes[i]);
      expect(m).toBeGreaterThan(0);
      expect(changetype<Mbuf>(m).ext_type).toBe(types[i]);
      expect(changetype<Mbuf>(m).ext_size).toBeGreaterThanOrEqual(sizes[i]);
      m_free(m);
    }
    const bad = mbuf_stat(MBS_BADARGS);
    expect(m_getjcl(MT_DATA, 0, MJUM16BYTES + 1)).toBe(0);
    expect(mbuf_stat(MBS_BADARGS)).toBe(bad + 1);
    expectClean();
  });

  test("m_cljget adds a cluster to a plain mbuf and refuses one that has storage", () => {
    boot();
    const m = m_get(MT_DATA);
    expect(m_cljget(m, MJUMPAGESIZE)).toBe(true);
    expect(changetype<Mbuf>(m).ext_type).toBe(EXT_JUMBOP);
    expect(mtod(m)).toBe(changetype<Mbuf>(m).ext_buf);
    expect(m_cljget(m, MCLBYTES)).toBe(false);
    m_free(m);
    expectClean();
  });

  test("a double m_free is counted and ignored", () => {
    boot();
    const m = m_get(MT_DATA);
    const bad = mbuf_stat(MBS_BADFREE);
    m_free(m);
    expect(m_free(m)).toBe(0);
    expect(mbuf_stat(MBS_BADFREE)).toBe(bad + 1);
    expectClean();
  });

  test("M_RDONLY storage is not writable and offers no leading or trailing space", () => {
    boot();
    const m = m_getcl(MT_DATA, 0);
    changetype<Mbuf>(m).m_flags |= M_RDONLY;
    changetype<Mbuf>(m).m_data += 10;
    expect(M_WRITABLE(m)).toBe(false);
    expect(M_LEADINGSPACE(m)).toBe(0);
    expect(M_TRAILINGSPACE(m)).toBe(0);
    m_free(m);
    expectClean();
  });
});

describe("m_append, m_copydata, m_length", () => {
  test("appending 0 bytes changes nothing", () => {
    boot();
    const m = m_gethdr(MT_DATA);
    expect(m_append(m, 0, src(1, 1))).toBe(true);
    expect(changetype<Mbuf>(m).m_len).toBe(0);
    expect(changetype<Mbuf>(m).ph_len).toBe(0);
    expect(m_length(m)).toBe(0);
    m_freem(m);
    expectClean();
  });

  test("exactly MHLEN bytes fill one header mbuf; one more takes a second buffer", () => {
    boot();
    const m = m_gethdr(MT_DATA);
    expect(m_append(m, <i32>MHLEN, src(<i32>MHLEN + 1, 3))).toBe(true);
    expect(count(m)).toBe(1);
    expect(M_TRAILINGSPACE(m)).toBe(0);
    expect(m_append(m, 1, SRC + MHLEN)).toBe(true);
    expect(count(m)).toBe(2);
    expect(changetype<Mbuf>(m).ph_len).toBe(<i32>MHLEN + 1);
    expect(m_length(m)).toBe(<i32>MHLEN + 1);
    expect(holds(m, 0, <i32>MHLEN + 1, 3, 0)).toBe(true);
    m_freem(m);
    expectClean();
  });

  test("exactly MLEN bytes fill one plain mbuf; MLEN + 1 spills", () => {
    boot();
    const m = m_get(MT_DATA);
    expect(m_append(m, <i32>MLEN, src(<i32>MLEN + 1, 4))).toBe(true);
    expect(count(m)).toBe(1);
    expect(m_append(m, 1, SRC + MLEN)).toBe(true);
    expect(count(m)).toBe(2);
    expect(holds(m, 0, <i32>MLEN + 1, 4, 0)).toBe(true);
    m_freem(m);
    expectClean();
  });

  test("exactly MCLBYTES fill one cluster; one more byte goes to a new mbuf", () => {
    boot();
    const m = m_getcl(MT_DATA, M_PKTHDR);
    expect(m_append(m, <i32>MCLBYTES, src(<i32>MCLBYTES + 1, 5))).toBe(true);
    expect(count(m)).toBe(1);
    expect(inuse(MBZ_CLUSTER)).toBe(1);
    expect(m_append(m, 1, SRC + MCLBYTES)).toBe(true);
    expect(count(m)).toBe(2);
    expect(changetype<Mbuf>(m).ph_len).toBe(<i32>MCLBYTES + 1);
    expect(holds(m, 0, <i32>MCLBYTES + 1, 5, 0)).toBe(true);
    m_freem(m);
    expectClean();
  });

  test("a large append uses clusters, not a long chain of small mbufs", () => {
    boot();
    const m = m_gethdr(MT_DATA);
    expect(m_append(m, 9000, src(9000, 6))).toBe(true);
    expect(count(m)).toBeLessThanOrEqual(2);
    expect(m_length(m)).toBe(9000);
    expect(holds(m, 0, 9000, 6, 0)).toBe(true);
    m_freem(m);
    expectClean();
  });

  test("m_copydata reads any range and refuses one past the end (counted)", () => {
    boot();
    const m = chainOf([10, 20, 30], 7);
    expect(holds(m, 0, 60, 7, 0)).toBe(true);
    expect(holds(m, 5, 30, 7, 5)).toBe(true);
    expect(holds(m, 30, 30, 7, 30)).toBe(true);
    expect(m_copydata(m, 60, 0, DST)).toBe(true);
    const bad = mbuf_stat(MBS_BADARGS);
    expect(m_copydata(m, 50, 11, DST)).toBe(false);
    expect(m_copydata(m, 60, 1, DST)).toBe(false);
    expect(m_copydata(m, -1, 1, DST)).toBe(false);
    expect(mbuf_stat(MBS_BADARGS)).toBe(bad + 3);
    m_freem(m);
    expectClean();
  });
});

describe("m_pullup", () => {
  test("returns the chain unchanged when the first mbuf already holds len bytes", () => {
    boot();
    const m = chainOf([40, 10], 8);
    expect(m_pullup(m, 40)).toBe(m);
    expect(changetype<Mbuf>(m).m_len).toBe(40);
    m_freem(m);
    expectClean();
  });

  test("gathers bytes from three mbufs into the first, freeing the emptied ones", () => {
    boot();
    const m = chainOf([10, 10, 10, 10], 9);
    const before = inuse(MBZ_MBUF);
    const h = m_pullup(m, 25);
    expect(h).toBe(m); // room in place
    expect(changetype<Mbuf>(h).m_len).toBe(25);
    expect(count(h)).toBe(3);
    expect(nth(h, 1).m_len).toBe(5);
    expect(inuse(MBZ_MBUF)).toBe(before - 1);
    expect(changetype<Mbuf>(h).ph_len).toBe(40);
    expect(holds(h, 0, 40, 9, 0)).toBe(true);
    m_freem(h);
    expectClean();
  });

  test("takes a new head, moving the packet header, when the first mbuf has no room", () => {
    boot();
    const m = m_getcl(MT_DATA, M_PKTHDR);
    m_append(m, 10, src(30, 10));
    const c = m_copym(m, 0, M_COPYALL); // the cluster is now shared: not writable
    m_append(m, 20, SRC + 10);
    const h = m_pullup(m, 30);
    expect(h).not.toBe(m);
    expect(changetype<Mbuf>(h).m_flags & M_PKTHDR).toBe(M_PKTHDR);
    expect(changetype<Mbuf>(h).m_len).toBe(30);
    expect(changetype<Mbuf>(h).ph_len).toBe(30);
    expect(count(h)).toBe(1);
    expect(holds(h, 0, 30, 10, 0)).toBe(true);
    expect(m_extrefcnt(c)).toBe(1);
    m_freem(h);
    m_freem(c);
    expectClean();
  });

  test("pulling up the whole chain leaves one mbuf holding all of it", () => {
    boot();
    const m = chainOf([60, 60, 56], 43);
    const h = m_pullup(m, 176);
    expect(count(h)).toBe(1);
    expect(changetype<Mbuf>(h).m_len).toBe(176);
    expect(holds(h, 0, 176, 43, 0)).toBe(true);
    m_freem(h);
    expectClean();
  });

  test("pulls up more than MHLEN into a cluster", () => {
    boot();
    const m = chainOf([100, 200, 100], 11);
    const h = m_pullup(m, 300);
    expect(h).toBeGreaterThan(0);
    expect(changetype<Mbuf>(h).m_flags & M_EXT).toBe(M_EXT);
    expect(changetype<Mbuf>(h).m_len).toBe(300);
    expect(holds(h, 0, 400, 11, 0)).toBe(true);
    m_freem(h);
    expectClean();
  });

  test("fails, freeing the chain, when it holds fewer than len bytes", () => {
    boot();
    const m = chainOf([10, 10, 10], 12);
    const fails = mbuf_stat(MBS_PULLUP_FAIL);
    expect(m_pullup(m, 31)).toBe(0);
    expect(mbuf_stat(MBS_PULLUP_FAIL)).toBe(fails + 1);
    expectClean();
  });
});

describe("m_prepend, M_PREPEND", () => {
  test("M_PREPEND uses leading space when there is some", () => {
    boot();
    const m = m_gethdr(MT_DATA);
    m_align(m, 20);
    m_append(m, 20, src(34, 13));
    expect(M_LEADINGSPACE(m)).toBeGreaterThanOrEqual(14);
    const h = M_PREPEND(m, 14);
    expect(h).toBe(m);
    memory.copy(mtod(h), SRC, 14);
    memory.copy(mtod(h) + 14, SRC + 14, 20);
    expect(changetype<Mbuf>(h).m_len).toBe(34);
    expect(changetype<Mbuf>(h).ph_len).toBe(34);
    expect(holds(h, 0, 34, 13, 0)).toBe(true);
    m_freem(h);
    expectClean();
  });

  test("M_PREPEND without leading space puts a new mbuf in front with the packet header", () => {
    boot();
    const m = m_gethdr(MT_DATA);
    changetype<Mbuf>(m).ph_flowid = 77;
    changetype<Mbuf>(m).m_flags |= M_BCAST;
    m_append(m, 20, src(20, 14));
    const h = M_PREPEND(m, 14);
    expect(h).not.toBe(m);
    const hh = changetype<Mbuf>(h);
    expect(hh.m_next).toBe(m);
    expect(hh.m_flags & (M_PKTHDR | M_BCAST)).toBe(M_PKTHDR | M_BCAST);
    expect(changetype<Mbuf>(m).m_flags & M_PKTHDR).toBe(0);
    expect(hh.ph_flowid).toBe(77);
    expect(hh.ph_len).toBe(34);
    expect(hh.m_len).toBe(14);
    // Data sits at the end of the new buffer, so a further prepend finds leading space.
    expect(M_LEADINGSPACE(h)).toBeGreaterThanOrEqual(<i32>MHLEN - 14 - 3);
    expect(M_PREPEND(h, 8)).toBe(h);
    expect(hh.ph_len).toBe(42);
    m_freem(h);
    expectClean();
  });

  test("m_prepend always allocates; lengths above MHLEN get a cluster", () => {
    boot();
    const m = m_gethdr(MT_DATA);
    const h = m_prepend(m, 500);
    expect(h).toBeGreaterThan(0);
    expect(changetype<Mbuf>(h).m_flags & M_EXT).toBe(M_EXT);
    expect(changetype<Mbuf>(h).m_len).toBe(500);
    expect(m_length(h)).toBe(500);
    m_freem(h);
    expectClean();
  });

  test("m_prepend with a bad length frees the chain and counts", () => {
    boot();
    const m = m_gethdr(MT_DATA);
    const bad = mbuf_stat(MBS_BADARGS);
    expect(m_prepend(m, -1)).toBe(0);
    expect(mbuf_stat(MBS_BADARGS)).toBe(bad + 1);
    expectClean();
  });
});

describe("m_adj", () => {
  test("trims the head across mbuf boundaries and fixes the packet length", () => {
    boot();
    const m = chainOf([100, 100, 100], 15);
    m_adj(m, 150);
    expect(changetype<Mbuf>(m).m_len).toBe(0);
    expect(nth(m, 1).m_len).toBe(50);
    expect(nth(m, 2).m_len).toBe(100);
    expect(changetype<Mbuf>(m).ph_len).toBe(150);
    expect(holds(m, 0, 150, 15, 150)).toBe(true);
    m_freem(m);
    expectClean();
  });

  test("trims the tail across mbuf boundaries, freeing emptied mbufs", () => {
    boot();
    const m = chainOf([100, 100, 100], 16);
    m_adj(m, -150);
    expect(count(m)).toBe(2);
    expect(nth(m, 1).m_len).toBe(50);
    expect(changetype<Mbuf>(m).ph_len).toBe(150);
    expect(inuse(MBZ_MBUF)).toBe(2);
    expect(holds(m, 0, 150, 16, 0)).toBe(true);
    m_adj(m, -50);
    expect(count(m)).toBe(1);
    expect(m_length(m)).toBe(100);
    m_freem(m);
    expectClean();
  });

  test("trimming the whole chain or more from either end leaves zero bytes", () => {
    boot();
    const a = chainOf([100, 100], 17);
    m_adj(a, 1000);
    expect(m_length(a)).toBe(0);
    expect(changetype<Mbuf>(a).ph_len).toBe(0);
    m_freem(a);
    const b = chainOf([100, 100], 17);
    m_adj(b, -200);
    expect(m_length(b)).toBe(0);
    expect(count(b)).toBe(1);
    expect(changetype<Mbuf>(b).ph_len).toBe(0);
    m_adj(b, i32.MIN_VALUE);
    expect(m_length(b)).toBe(0);
    m_freem(b);
    expectClean();
  });
});

describe("m_split", () => {
  test("splitting in the middle of a cluster shares it by refcount", () => {
    boot();
    const m = m_getcl(MT_DATA, M_PKTHDR);
    m_append(m, 1500, src(1500, 18));
    changetype<Mbuf>(m).ph_csum_flags = CSUM_L4_VALID;
    const shared = mbuf_stat(MBS_SHARED);
    const n = m_split(m, 700);
    expect(n).toBeGreaterThan(0);
    const nn = changetype<Mbuf>(n);
    expect(nn.ext_buf).toBe(changetype<Mbuf>(m).ext_buf);
    expect(m_extrefcnt(m)).toBe(2);
    expect(m_extrefcnt(n)).toBe(2);
    expect(M_WRITABLE(m)).toBe(false);
    expect(mbuf_stat(MBS_SHARED)).toBe(shared + 1);
    expect(inuse(MBZ_CLUSTER)).toBe(1);
    expect(inuse(MBZ_EXTREF)).toBe(1);
    expect(changetype<Mbuf>(m).m_len).toBe(700);
    expect(changetype<Mbuf>(m).ph_len).toBe(700);
    expect(nn.m_flags & M_PKTHDR).toBe(M_PKTHDR);
    expect(nn.ph_len).toBe(800);
    expect(nn.ph_csum_flags).toBe(0);
    expect(holds(m, 0, 700, 18, 0)).toBe(true);
    expect(holds(n, 0, 800, 18, 700)).toBe(true);
    m_freem(m);
    expect(inuse(MBZ_CLUSTER)).toBe(1);
    expect(m_extrefcnt(n)).toBe(1);
    expect(M_WRITABLE(n)).toBe(true);
    m_freem(n);
    expectClean();
  });

  test("splitting at an mbuf boundary moves the following mbufs under a new header", () => {
    boot();
    const m = chainOf([100, 100, 100], 19);
    const n = m_split(m, 100);
    expect(count(m)).toBe(1);
    expect(changetype<Mbuf>(m).ph_len).toBe(100);
    expect(changetype<Mbuf>(n).m_len).toBe(0);
    expect(changetype<Mbuf>(n).ph_len).toBe(200);
    expect(count(n)).toBe(3);
    expect(holds(n, 0, 200, 19, 100)).toBe(true);
    m_freem(m);
    m_freem(n);
    expectClean();
  });

  test("splitting inside plain mbufs copies the tail of the cut one", () => {
    boot();
    const m = chainOf([100, 100, 100], 20);
    const n = m_split(m, 150);
    expect(m_length(m)).toBe(150);
    expect(m_length(n)).toBe(150);
    expect(changetype<Mbuf>(n).ph_len).toBe(150);
    expect(holds(m, 0, 150, 20, 0)).toBe(true);
    expect(holds(n, 0, 150, 20, 150)).toBe(true);
    m_freem(m);
    m_freem(n);
    expectClean();
  });

  test("splitting at 0 and at the end gives an empty head or an empty tail", () => {
    boot();
    const m = chainOf([50, 50], 21);
    const n = m_split(m, 0);
    expect(m_length(m)).toBe(0);
    expect(m_length(n)).toBe(100);
    expect(holds(n, 0, 100, 21, 0)).toBe(true);
    const e = m_split(n, 100);
    expect(e).toBeGreaterThan(0);
    expect(m_length(e)).toBe(0);
    expect(changetype<Mbuf>(e).ph_len).toBe(0);
    m_freem(m);
    m_freem(n);
    m_freem(e);
    expectClean();
  });

  test("a chain without packet header split at a boundary returns the next mbuf", () => {
    boot();
    const a = m_get(MT_DATA);
    const b = m_get(MT_DATA);
    m_append(a, 10, src(10, 22));
    changetype<Mbuf>(a).m_next = b;
    m_append(b, 10, src(10, 22));
    expect(m_split(a, 10)).toBe(b);
    expect(changetype<Mbuf>(a).m_next).toBe(0);
    m_free(a);
    m_free(b);
    expectClean();
  });

  test("splitting past the end fails, counted, with the chain unchanged", () => {
    boot();
    const m = chainOf([50, 50], 23);
    const bad = mbuf_stat(MBS_BADARGS);
    expect(m_split(m, 101)).toBe(0);
    expect(m_split(m, -1)).toBe(0);
    expect(mbuf_stat(MBS_BADARGS)).toBe(bad + 2);
    expect(m_length(m)).toBe(100);
    expect(count(m)).toBe(2);
    m_freem(m);
    expectClean();
  });
});

describe("m_copym, m_dup", () => {
  test("copying a cluster shares it (refcount 2) and freeing both frees it once", () => {
    boot();
    const base = inuse(MBZ_CLUSTER);
    const m = m_getcl(MT_DATA, M_PKTHDR);
    m_append(m, 1000, src(1000, 24));
    changetype<Mbuf>(m).ph_flowid = 5;
    const c = m_copym(m, 0, M_COPYALL);
    expect(c).toBeGreaterThan(0);
    expect(changetype<Mbuf>(c).ext_buf).toBe(changetype<Mbuf>(m).ext_buf);
    expect(m_extrefcnt(m)).toBe(2);
    expect(inuse(MBZ_CLUSTER)).toBe(base + 1);
    expect(changetype<Mbuf>(c).ph_len).toBe(1000);
    expect(changetype<Mbuf>(c).ph_flowid).toBe(5);
    expect(M_WRITABLE(c)).toBe(false);
    expect(holds(c, 0, 1000, 24, 0)).toBe(true);
    m_freem(c);
    expect(inuse(MBZ_CLUSTER)).toBe(base + 1);
    m_freem(m);
    expect(inuse(MBZ_CLUSTER)).toBe(base);
    expect(inuse(MBZ_EXTREF)).toBe(0);
    expectClean();
  });

  test("a third sharer joins the same refcount record", () => {
    boot();
    const m = m_getcl(MT_DATA, 0);
    m_append(m, 100, src(100, 25));
    const a = m_copym(m, 0, 50);
    const b = m_copym(m, 50, 50);
    expect(m_extrefcnt(m)).toBe(3);
    expect(inuse(MBZ_EXTREF)).toBe(1);
    expect(holds(b, 0, 50, 25, 50)).toBe(true);
    m_freem(m);
    m_freem(b);
    expect(inuse(MBZ_CLUSTER)).toBe(1);
    m_freem(a);
    expectClean();
  });

  test("copying plain mbufs copies the data", () => {
    boot();
    const m = chainOf([100, 100], 26);
    const c = m_copym(m, 0, M_COPYALL);
    expect(m_length(c)).toBe(200);
    store<u8>(mtod(m), 0);
    expect(holds(c, 0, 200, 26, 0)).toBe(true);
    m_freem(m);
    m_freem(c);
    expectClean();
  });

  test("a range from an offset has no packet header and exactly len bytes", () => {
    boot();
    const m = chainOf([100, 100, 100], 27);
    const c = m_copym(m, 50, 200);
    expect(changetype<Mbuf>(c).m_flags & M_PKTHDR).toBe(0);
    expect(m_length(c)).toBe(200);
    expect(holds(c, 0, 200, 27, 50)).toBe(true);
    m_freem(c);
    const z = m_copym(m, 300, 0);
    expect(m_length(z)).toBe(0);
    m_freem(z);
    m_freem(m);
    expectClean();
  });

  test("a header mbuf copied from a full plain head spills into a second mbuf", () => {
    boot();
    const h = m_gethdr(MT_DATA);
    const m = m_get(MT_DATA);
    m_append(m, <i32>MLEN, src(<i32>MLEN, 28));
    changetype<Mbuf>(h).m_next = m;
    m_fixhdr(h);
    const c = m_copym(h, 0, M_COPYALL);
    expect(m_length(c)).toBe(<i32>MLEN);
    expect(changetype<Mbuf>(c).ph_len).toBe(<i32>MLEN);
    expect(holds(c, 0, <i32>MLEN, 28, 0)).toBe(true);
    m_freem(c);
    m_freem(h);
    expectClean();
  });

  test("a range past the end fails, counted, and leaks nothing", () => {
    boot();
    const m = chainOf([100, 100], 29);
    const fails = mbuf_stat(MBS_COPY_FAIL);
    expect(m_copym(m, 150, 51)).toBe(0);
    expect(m_copym(m, 201, M_COPYALL)).toBe(0);
    expect(mbuf_stat(MBS_COPY_FAIL)).toBe(fails + 2);
    m_freem(m);
    expectClean();
  });

  test("m_dup makes a writable deep copy that shares nothing", () => {
    boot();
    const m = m_getcl(MT_DATA, M_PKTHDR);
    m_append(m, 1800, src(1800, 30));
    changetype<Mbuf>(m).ph_flowid = 9;
    const d = m_dup(m);
    expect(d).toBeGreaterThan(0);
    expect(m_extrefcnt(m)).toBe(1);
    expect(M_WRITABLE(d)).toBe(true);
    expect(changetype<Mbuf>(d).ph_len).toBe(1800);
    expect(changetype<Mbuf>(d).ph_flowid).toBe(9);
    expect(holds(d, 0, 1800, 30, 0)).toBe(true);
    expect(inuse(MBZ_CLUSTER)).toBe(2);
    m_freem(m);
    m_freem(d);
    expectClean();
  });
});

describe("m_copyback, m_cat", () => {
  test("m_copyback overwrites in place across mbufs", () => {
    boot();
    const m = chainOf([100, 100], 31);
    src(200, 32);
    expect(m_copyback(m, 50, 100, SRC + 50)).toBe(true);
    expect(holds(m, 50, 100, 32, 50)).toBe(true);
    expect(holds(m, 0, 50, 31, 0)).toBe(true);
    expect(holds(m, 150, 50, 31, 150)).toBe(true);
    expect(count(m)).toBe(2);
    m_freem(m);
    expectClean();
  });

  test("m_copyback past the end extends the chain, zero-filling the gap", () => {
    boot();
    const m = chainOf([100], 33);
    src(2000, 34);
    expect(m_copyback(m, 300, 1000, SRC)).toBe(true);
    expect(m_length(m)).toBe(1300);
    expect(changetype<Mbuf>(m).ph_len).toBe(1300);
    expect(holds(m, 0, 76, 33, 0)).toBe(true);
    m_copydata(m, 100, 200, DST);
    let zeros = true;
    for (let i = 0; i < 200; i++) if (load<u8>(DST + i) != 0) zeros = false;
    expect(zeros).toBe(true);
    expect(holds(m, 300, 1000, 34, 0)).toBe(true);
    m_freem(m);
    expectClean();
  });

  test("m_copyback refuses to write into a shared cluster", () => {
    boot();
    const m = m_getcl(MT_DATA, 0);
    m_append(m, 100, src(100, 35));
    const c = m_copym(m, 0, M_COPYALL);
    const nw = mbuf_stat(MBS_NOTWRITABLE);
    expect(m_copyback(m, 10, 10, src(10, 36))).toBe(false);
    expect(mbuf_stat(MBS_NOTWRITABLE)).toBe(nw + 1);
    expect(holds(c, 0, 100, 35, 0)).toBe(true);
    // Appending after the shared data is fine: it goes to a new mbuf.
    expect(m_copyback(m, 100, 10, SRC)).toBe(true);
    expect(count(m)).toBe(2);
    m_freem(m);
    m_freem(c);
    expectClean();
  });

  test("m_cat copies small tails into trailing space and links the rest", () => {
    boot();
    const m = chainOf([10], 37);
    const n = chainOf([10, 20], 38);
    m_cat(m, n);
    expect(count(m)).toBe(1);
    expect(m_length(m)).toBe(40);
    expect(holds(m, 10, 30, 38, 0)).toBe(true);
    const big = m_getcl(MT_DATA, M_PKTHDR);
    m_append(big, 1000, src(1000, 39));
    m_catpkt(m, big);
    expect(count(m)).toBe(2);
    expect(nth(m, 1).m_flags & M_PKTHDR).toBe(0);
    expect(changetype<Mbuf>(m).ph_len).toBe(10 + 1000);
    expect(m_fixhdr(m)).toBe(1040);
    expect(holds(m, 40, 1000, 39, 0)).toBe(true);
    m_freem(m);
    expectClean();
  });
});

describe("per-vnet charging", () => {
  test("a vnet over its mbuf limit gets 0 from m_get and its fail counter grows", () => {
    boot();
    const v = vnet_alloc();
    expect(v).toBeGreaterThan(0);
    expect(mbuf_vnet_inuse(v, MBZ_MBUF)).toBe(0);
    expect(mbuf_set_vnet_limit(v, 4, 1)).toBe(0);
    const old = CURVNET_SET(v);
    const ms = memory.data(16, 4);
    for (let i = 0; i < 4; i++) {
      store<usize>(ms + i * 4, m_get(MT_DATA));
      expect(load<usize>(ms + i * 4)).toBeGreaterThan(0);
    }
    const zf = changetype<Zone>(mbuf_zone(MBZ_MBUF)).fails;
    const drops = mbuf_stat(MBS_DROPS);
    expect(m_get(MT_DATA)).toBe(0);
    expect(mbuf_vnet_fails(v, MBZ_MBUF)).toBe(1);
    expect(changetype<Zone>(mbuf_zone(MBZ_MBUF)).fails).toBe(zf + 1);
    expect(mbuf_stat(MBS_DROPS)).toBe(drops + 1);
    // Other vnets are not affected.
    CURVNET_SET(vnet_vnet0());
    const other = m_get(MT_DATA);
    expect(other).toBeGreaterThan(0);
    m_free(other);
    CURVNET_SET(v);
    m_free(load<usize>(ms));
    m_free(load<usize>(ms + 4));
    // One cluster allowed: the second m_getcl fails and leaks no mbuf.
    const c1 = m_getcl(MT_DATA, 0);
    expect(c1).toBeGreaterThan(0);
    expect(m_getcl(MT_DATA, 0)).toBe(0);
    expect(mbuf_vnet_fails(v, MBZ_CLUSTER)).toBe(1);
    expect(mbuf_vnet_fails(v, MBZ_MBUF)).toBe(1);
    expect(mbuf_vnet_inuse(v, MBZ_MBUF)).toBe(3);
    expect(mbuf_vnet_inuse(v, MBZ_CLUSTER)).toBe(1);
    m_free(c1);
    for (let i = 2; i < 4; i++) m_free(load<usize>(ms + i * 4));
    expect(mbuf_vnet_inuse(v, MBZ_MBUF)).toBe(0);
    CURVNET_RESTORE(old);
    expect(vnet_destroy(v)).toBe(0);
    expectClean();
  });

  test("new vnets get the default limits; mbuf_set_vnet_zlimit sets one zone", () => {
    boot();
    const v = vnet_alloc();
    const z = changetype<Zone>(mbuf_zone(MBZ_MBUF));
    expect(load<u32>(changetype<Vnet>(v).base + z.vnoff, ZR_LIMIT)).toBe(MBUF_VNET_MBUFS);
    expect(mbuf_set_vnet_zlimit(v, MBZ_CLUSTER, 0)).toBe(0);
    expect(mbuf_set_vnet_zlimit(v, MBZ_COUNT, 0)).toBeLessThan(0);
    expect(mbuf_set_vnet_zlimit(0, MBZ_CLUSTER, 0)).toBeLessThan(0);
    expect(vnet_destroy(v)).toBe(0);
    expect(MBUF_VNET_CLUSTERS).toBeGreaterThan(0);
    expectClean();
  });

  test("m_free uncharges the vnet the mbuf is charged to, whoever frees it", () => {
    boot();
    const v = vnet_alloc();
    const old = CURVNET_SET(v);
    const m = m_getcl(MT_DATA, M_PKTHDR);
    CURVNET_RESTORE(old);
    expect(mbuf_vnet_inuse(v, MBZ_MBUF)).toBe(1);
    expect(mbuf_vnet_inuse(v, MBZ_CLUSTER)).toBe(1);
    m_freem(m); // curvnet is vnet0
    expect(mbuf_vnet_inuse(v, MBZ_MBUF)).toBe(0);
    expect(mbuf_vnet_inuse(v, MBZ_CLUSTER)).toBe(0);
    expect(vnet_destroy(v)).toBe(0);
    expectClean();
  });

  test("m_chargeto moves a packet's mbufs and unshared clusters to another vnet", () => {
    boot();
    const v0 = vnet_vnet0();
    const v = vnet_alloc();
    const m0 = mbuf_vnet_inuse(v0, MBZ_MBUF);
    const m = m_getcl(MT_DATA, M_PKTHDR);
    m_append(m, 3000, src(3000, 40));
    const nm = count(m);
    expect(mbuf_vnet_inuse(v0, MBZ_MBUF)).toBe(m0 + nm);
    expect(m_chargeto(m, v)).toBe(true);
    expect(mbuf_vnet_inuse(v0, MBZ_MBUF)).toBe(m0);
    expect(mbuf_vnet_inuse(v, MBZ_MBUF)).toBe(<u32>nm);
    expect(mbuf_vnet_inuse(v, MBZ_CLUSTER) + mbuf_vnet_inuse(v, MBZ_JUMBOP)).toBe(<u32>nm);
    expect(changetype<Mbuf>(m).m_vnet).toBe(v);
    expect(changetype<Mbuf>(m).ph_vnet).toBe(v);
    m_freem(m);
    expect(mbuf_vnet_inuse(v, MBZ_MBUF)).toBe(0);
    expect(mbuf_vnet_inuse(v, MBZ_CLUSTER)).toBe(0);
    expect(mbuf_vnet_inuse(v, MBZ_JUMBOP)).toBe(0);
    expect(vnet_destroy(v)).toBe(0);
    expectClean();
  });

  test("m_chargeto refuses, changing nothing, when the receiving vnet is at its limit", () => {
    boot();
    const v0 = vnet_vnet0();
    const v = vnet_alloc();
    mbuf_set_vnet_limit(v, 1, 10);
    const m = m_gethdr(MT_DATA);
    m_append(m, 300, src(300, 41)); // two buffers
    const before = mbuf_vnet_inuse(v0, MBZ_MBUF);
    const cf = mbuf_stat(MBS_CHARGE_FAIL);
    expect(m_chargeto(m, v)).toBe(false);
    expect(mbuf_stat(MBS_CHARGE_FAIL)).toBe(cf + 1);
    expect(mbuf_vnet_fails(v, MBZ_MBUF)).toBe(1);
    expect(mbuf_vnet_inuse(v0, MBZ_MBUF)).toBe(before);
    expect(mbuf_vnet_inuse(v, MBZ_MBUF)).toBe(0);
    expect(changetype<Mbuf>(m).m_vnet).toBe(v0);
    m_freem(m);
    expect(vnet_destroy(v)).toBe(0);
    expectClean();
  });

  test("a cluster still shared stays charged to its vnet when a copy moves, and follows the copy when its vnet lets go", () => {
    boot();
    const v0 = vnet_vnet0();
    const v = vnet_alloc();
    const m = m_getcl(MT_DATA, M_PKTHDR);
    m_append(m, 1000, src(1000, 42));
    const c = m_copym(m, 0, M_COPYALL);
    expect(m_chargeto(c, v)).toBe(true);
    expect(mbuf_vnet_inuse(v, MBZ_MBUF)).toBe(1);
    expect(mbuf_vnet_inuse(v, MBZ_CLUSTER)).toBe(0); // vnet0 still uses it
    expect(mbuf_vnet_inuse(v0, MBZ_CLUSTER)).toBe(1);
    m_freem(m); // vnet0 lets go: the copy in v is the only user and now pays for it
    expect(mbuf_vnet_inuse(v0, MBZ_CLUSTER)).toBe(0);
    expect(mbuf_vnet_inuse(v0, MBZ_EXTREF)).toBe(0);
    expect(mbuf_vnet_inuse(v, MBZ_CLUSTER)).toBe(1);
    expect(mbuf_vnet_inuse(v, MBZ_EXTREF)).toBe(1);
    expect(m_chargeto(c, v)).toBe(true); // nothing left to move
    expect(mbuf_vnet_inuse(v, MBZ_CLUSTER)).toBe(1);
    m_freem(c);
    expect(mbuf_vnet_inuse(v, MBZ_CLUSTER)).toBe(0);
    expect(mbuf_vnet_inuse(v, MBZ_EXTREF)).toBe(0);
    expect(vnet_destroy(v)).toBe(0);
    expectClean();
  });

  test("a sender's cluster shared by several segments in a receiver: the sender's vnet goes clean first", () => {
    boot();
    const a = vnet_alloc();
    const b = vnet_alloc();
    let old = CURVNET_SET(a);
    const sb = m_getcl(MT_DATA, M_PKTHDR); // a send buffer's cluster
    m_append(sb, 1500, src(1500, 43));
    const s1 = m_copym(sb, 0, 500); // three segments sharing it
    const s2 = m_copym(sb, 500, 500);
    const s3 = m_copym(sb, 1000, 500);
    const keep = m_copym(sb, 0, 100); // a second reference a keeps for itself
    CURVNET_RESTORE(old);
    expect(m_chargeto(s1, b)).toBe(true);
    expect(m_chargeto(s2, b)).toBe(true);
    expect(m_chargeto(s3, b)).toBe(true);
    expect(mbuf_vnet_inuse(a, MBZ_CLUSTER)).toBe(1);
    m_freem(sb); // a still holds `keep`: the cluster stays a's
    expect(mbuf_vnet_inuse(a, MBZ_CLUSTER)).toBe(1);
    m_freem(s1); // b lets go of one of its three
    expect(mbuf_vnet_inuse(a, MBZ_CLUSTER)).toBe(1);
    m_freem(keep); // a's last reference: b's two remain and b pays from now on
    expect(mbuf_vnet_inuse(a, MBZ_CLUSTER)).toBe(0);
    expect(mbuf_vnet_inuse(a, MBZ_EXTREF)).toBe(0);
    expect(mbuf_vnet_inuse(b, MBZ_CLUSTER)).toBe(1);
    expect(vnet_destroy(a)).toBe(0); // nothing of a is held anywhere
    expect(vnet_zombies()).toBe(0);
    m_freem(s2);
    expect(mbuf_vnet_inuse(b, MBZ_CLUSTER)).toBe(1);
    m_freem(s3);
    expect(mbuf_vnet_inuse(b, MBZ_CLUSTER)).toBe(0);
    expect(mbuf_vnet_inuse(b, MBZ_EXTREF)).toBe(0);
    expect(vnet_destroy(b)).toBe(0);
    expectClean();
  });

  test("fragments sharing a freed original's cluster: the last one to cross takes the cluster with it", () => {
    boot();
    const a = vnet_alloc();
    const b = vnet_alloc();
    let old = CURVNET_SET(a);
    const d = m_getcl(MT_DATA, M_PKTHDR); // the datagram ip_fragment cut up
    m_append(d, 1500, src(1500, 44));
    const f1 = m_copym(d, 0, 500);
    const f2 = m_copym(d, 500, 500);
    const f3 = m_copym(d, 1000, 500);
    m_freem(d); // the original goes before the fragments cross (epair queues them)
    CURVNET_RESTORE(old);
    expect(m_chargeto(f1, b)).toBe(true);
    expect(m_chargeto(f2, b)).toBe(true);
    expect(mbuf_vnet_inuse(a, MBZ_CLUSTER)).toBe(1); // f3 still in a
    expect(m_chargeto(f3, b)).toBe(true); // a's last reference left: the storage is b's
    expect(mbuf_vnet_inuse(a, MBZ_CLUSTER)).toBe(0);
    expect(mbuf_vnet_inuse(a, MBZ_EXTREF)).toBe(0);
    expect(mbuf_vnet_inuse(b, MBZ_CLUSTER)).toBe(1);
    expect(mbuf_vnet_inuse(b, MBZ_EXTREF)).toBe(1);
    expect(vnet_destroy(a)).toBe(0); // b's reassembly queue holds nothing of a
    expect(vnet_zombies()).toBe(0);
    m_freem(f1);
    m_freem(f2);
    expect(mbuf_vnet_inuse(b, MBZ_CLUSTER)).toBe(1);
    m_freem(f3);
    expect(mbuf_vnet_inuse(b, MBZ_CLUSTER)).toBe(0);
    expect(mbuf_vnet_inuse(b, MBZ_EXTREF)).toBe(0);
    expect(vnet_destroy(b)).toBe(0);
    expectClean();
  });

  test("the last fragment is refused, changing nothing, when the cluster it would bring is over the receiver's limit", () => {
    boot();
    const a = vnet_alloc();
    const b = vnet_alloc();
    mbuf_set_vnet_limit(b, 100, 1);
    let old = CURVNET_SET(b);
    const own = m_getcl(MT_DATA, M_PKTHDR); // b is at its cluster limit
    CURVNET_RESTORE(old);
    old = CURVNET_SET(a);
    const d = m_getcl(MT_DATA, M_PKTHDR);
    m_append(d, 1000, src(1000, 45));
    const f1 = m_copym(d, 0, 500);
    const f2 = m_copym(d, 500, 500);
    m_freem(d);
    CURVNET_RESTORE(old);
    expect(m_chargeto(f1, b)).toBe(true); // a keeps f2's reference: the cluster stays a's
    expect(m_chargeto(f2, b)).toBe(false);
    expect(mbuf_vnet_fails(b, MBZ_CLUSTER)).toBe(1);
    expect(changetype<Mbuf>(f2).m_vnet).toBe(a);
    expect(mbuf_vnet_inuse(a, MBZ_CLUSTER)).toBe(1);
    expect(mbuf_vnet_inuse(b, MBZ_CLUSTER)).toBe(1); // its own, nothing more
    m_freem(f2); // a lets go: the cluster follows f1 as before (extFree), past the limit
    m_freem(f1);
    m_freem(own);
    expect(mbuf_vnet_inuse(b, MBZ_CLUSTER)).toBe(0);
    expect(vnet_destroy(a)).toBe(0);
    expect(vnet_destroy(b)).toBe(0);
    expectClean();
  });

});

describe("vnet teardown", () => {
  // Last test of the file: it leaves one mbuf allocated on purpose.
  test("a zombie vnet goes when m_chargeto moves its last mbuf to another vnet", () => {
    boot();
    const v = vnet_alloc();
    const w = vnet_alloc();
    const old = CURVNET_SET(v);
    const m = m_get(MT_DATA);
    CURVNET_RESTORE(old);
    expect(vnet_destroy(v)).toBe(1);
    expect(vnet_zombies()).toBe(1);
    expect(m_chargeto(m, w)).toBe(true); // the packet crosses into w
    expect(vnet_zombies()).toBe(0);
    expect(mbuf_vnet_inuse(w, MBZ_MBUF)).toBe(1);
    m_free(m);
    vnet_destroy(w);
  });

  test("a vnet destroyed with an mbuf out stays a zombie until the mbuf is freed, then goes", () => {
    boot();
    const pages0 = kmem_pages_inuse();
    const v = vnet_alloc();
    const old = CURVNET_SET(v);
    const m = m_get(MT_DATA);
    CURVNET_RESTORE(old);
    expect(vnet_destroy(v)).toBe(1); // reported as that vnet's leak
    expect(vnet_zombies()).toBe(1);
    expect(vnet_valid(v)).toBe(false);
    const orphans = mbuf_stat(MBS_ORPHANS);
    m_free(m); // another vnet's queue letting go of it
    expect(mbuf_stat(MBS_ORPHANS)).toBe(orphans);
    expect(inuse(MBZ_MBUF)).toBe(0);
    expect(vnet_zombies()).toBe(0);
    zone_drain_all();
    expect(kmem_pages_inuse()).toBeLessThanOrEqual(pages0);
    expect(mbuf_vnet_inuse(vnet_vnet0(), MBZ_MBUF)).toBe(0);
  });
});
