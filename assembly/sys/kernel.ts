// Sysinit subsystem and order keys. The numeric values keep the relative order of
// FreeBSD's enum sysinit_sub_id / sysinit_elem_order (sys/sys/kernel.h), so a reader can
// place a wavnet init exactly where the BSD one would run.
export const SI_SUB_VNET_PRELINK: u32 = 0x1e00000;
export const SI_SUB_KLD: u32 = 0x2000000;
export const SI_SUB_MBUF: u32 = 0x2700000;
export const SI_SUB_SOFTINTR: u32 = 0x2a00000; // callouts
export const SI_SUB_INIT_IF: u32 = 0x3000000;
export const SI_SUB_PSEUDO: u32 = 0x7000000;
export const SI_SUB_PROTO_BEGIN: u32 = 0x8000000;
export const SI_SUB_PROTO_PFIL: u32 = 0x8100000;
export const SI_SUB_PROTO_IF: u32 = 0x8400000;
export const SI_SUB_PROTO_DOMAININIT: u32 = 0x8600000;
export const SI_SUB_PROTO_DOMAIN: u32 = 0x8800000;
export const SI_SUB_PROTO_IFATTACHDOMAIN: u32 = 0x8800001;
export const SI_SUB_PROTO_FIREWALL: u32 = 0x8806000;
export const SI_SUB_PROTO_END: u32 = 0x8ffffff;
export const SI_SUB_VNET_DONE: u32 = 0xdc00000;

export const SI_ORDER_FIRST: u32 = 0x0000000;
export const SI_ORDER_SECOND: u32 = 0x0000001;
export const SI_ORDER_THIRD: u32 = 0x0000002;
export const SI_ORDER_FOURTH: u32 = 0x0000003;
export const SI_ORDER_MIDDLE: u32 = 0x1000000;
export const SI_ORDER_ANY: u32 = 0xfffffff;

// modevent() commands (sys/module.h)
export const MOD_LOAD: i32 = 0;
export const MOD_UNLOAD: i32 = 1;
export const MOD_SHUTDOWN: i32 = 2;
export const MOD_QUIESCE: i32 = 3;
