// wavnet: many network stacks in one WebAssembly kernel.
export { Kernel, Vnet, type BootOptions, type ZoneRow, type Accounting, type VnetAccounting, type KernelExports } from "./kernel.js";
export { VirtualClock, RealClock, type Clock } from "./clock.js";
export type { KldStat, ModuleSource } from "./linker.js";
export * from "./errors.js";
export { Interface, InterfaceGoneError, parseMac, formatMac, flagNames, ETHERSTATS, type IfCounters, type EtherStats } from "./ifnet.js";
export { PcapWriter, PcapngWriter, writePcapFile, writePcapngFile, readPcap, readPcapng, loopbackHeader, LINKTYPE_ETHERNET, LINKTYPE_NULL, MAX_SNAPLEN, type PcapPacket, type PcapngInterface, type PcapngStats } from "./pcap.js";
export { Capture, PcapngSink, CaptureRecordError, parseRecords, ringRecords, encodeRecords, type Frame, type CaptureOptions, type RingRecord } from "./capture.js";
export { LiveCapture, type CaptureStartOptions } from "./tap.js";
export * from "./bridge.js";
export { epairConditions, clearConditions, getConditions, epairStats, epairPeer, epairCount, type LinkConditions, type EpairStats } from "./epair.js";
