// Kernel globals that loadable modules read directly: a small block of kernel static
// memory whose address is handed to each module as the imported global `kernel.kglobals`.
// Reading curvnet is then one load, the same in the kernel and in a module.

/** Address of the block (kernel side; modules import it). */
export const KGLOBALS: usize = memory.data(64, 16);

/** struct vnet * of the stack the kernel is running for. */
export const KG_CURVNET: usize = 0;
/** Base of the current vnet's data block: VNET(x) is this plus x's offset. */
export const KG_CURVNET_BASE: usize = 4;
/** Module id whose MOD_LOAD/MOD_UNLOAD is running, 0 for the kernel itself. */
export const KG_CURMOD: usize = 8;
/** Kernel time in microseconds (u64), written by callout_tick. */
export const KG_TICKS: usize = 16;
/**
 * Bumped whenever an address family's entry table is registered or goes (uipc_domain.ts), so
 * a transport that holds a family's table re-asks domain_af_api only when this moved: its
 * per-packet check is one load (kmod/af_api.ts).
 */
export const KG_AFGEN: usize = 24;
