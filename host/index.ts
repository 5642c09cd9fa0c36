// wavnet: many network stacks in one WebAssembly kernel.
export { Kernel, Vnet, type BootOptions, type ZoneRow, type Accounting, type VnetAccounting, type KernelExports } from "./kernel.js";
export { VirtualClock, RealClock, type Clock } from "./clock.js";
export type { KldStat, ModuleSource } from "./linker.js";
export * from "./errors.js";
export { Interface, InterfaceGoneError, parseMac, formatMac, flagNames, ETHERSTATS, type IfCounters, type EtherStats } from "./ifnet.js";
