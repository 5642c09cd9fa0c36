// The host's side of the rings between the kernel and a host port (if_tap, if_vxlan):
// reading an interface's output ring (assembly/modules/if_ring.ts) and writing input
// records into the kernel's I/O buffer. host/wire/tap.ts and host/node/vxlan.ts both use
// these. Platform-neutral: no Node built-in.

/** A module's three ring exports for one interface, bound (tap_readable/read_ptr/consume, vxlan_...). */
export interface RingReader {
  readable(ifp: number): number;
  readPtr(): number;
  consume(ifp: number, n: number): void;
}

/**
 * Take every record the ring of ifp holds and call each(data) for each, in order. One copy
 * per segment read: the views handed to each() are of that copy, never written again, so a
 * transport may keep them (a send that completes later). With copy false there is no copy:
 * the views are of kernel memory and valid only during each() (for a transport that copies
 * them at once, as the VXLAN thread's ring does). Returns the records read.
 */
export function drainRing(memory: WebAssembly.Memory, r: RingReader, ifp: number, each: (data: Uint8Array) => void, copy = true): number {
  let records = 0;
  for (let n = r.readable(ifp); n > 0; n = r.readable(ifp)) {
    const p = r.readPtr() >>> 0;
    const chunk = copy ? new Uint8Array(memory.buffer, p, n).slice() : new Uint8Array(memory.buffer, p, n);
    if (copy) r.consume(ifp, n);
    const dv = new DataView(chunk.buffer, chunk.byteOffset, n);
    for (let off = 0; off + 8 <= n; ) {
      const reclen = dv.getUint32(off, true);
      const dlen = dv.getUint32(off + 4, true);
      if (reclen < 8 || off + 8 + dlen > n) break; // cannot happen: the kernel writes whole records
      each(chunk.subarray(off + 8, off + 8 + dlen));
      records++;
      off += reclen;
    }
    if (!copy) r.consume(ifp, n);
  }
  return records;
}

/** Size of the kernel's I/O buffer that input batches are written to. */
export const IOBUF_SIZE = 65536;

/** Bytes one input record of a len-byte frame or datagram takes: u32 length, the data, padding to 4. */
export function recordSize(len: number): number {
  return (4 + len + 3) & ~3;
}

/** Does a record of a len-byte frame fit the I/O buffer at off? (Its padding may not.) */
export function recordFits(off: number, len: number): boolean {
  return off + 4 + len <= IOBUF_SIZE;
}

/** Write one input record at off in the I/O buffer (the caller checked it fits); returns the next offset. */
export function putRecord(iobuf: Uint8Array, off: number, data: Uint8Array): number {
  const len = data.length;
  iobuf[off] = len;
  iobuf[off + 1] = len >>> 8;
  iobuf[off + 2] = len >>> 16;
  iobuf[off + 3] = len >>> 24;
  iobuf.set(data, off + 4);
  return off + recordSize(len);
}
