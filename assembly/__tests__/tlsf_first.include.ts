// as-pect's runtime (TLSF) claims all of memory.size() when it first allocates. kmem takes
// its chunks with memory.grow, so the test runtime must be initialised first, or TLSF
// would hand out chunks kmem owns. (The real kernel uses the stub runtime, which claims
// nothing.) This top-level allocation runs at start, before any test boots kmem.
export const TLSF_FIRST = new Array<u8>(1);
