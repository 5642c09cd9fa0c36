// struct ifnet and the interface constants (FreeBSD net/if.h, net/if_var.h, net/ethernet.h).
// Included by the kernel and by modules: the layout is a contract between them.

export const IFNAMSIZ: u32 = 16;

// if_flags (FreeBSD values)
export const IFF_UP: u32 = 0x1;
export const IFF_BROADCAST: u32 = 0x2;
export const IFF_LOOPBACK: u32 = 0x8;
export const IFF_RUNNING: u32 = 0x40; // IFF_DRV_RUNNING in FreeBSD: the driver is ready
export const IFF_PROMISC: u32 = 0x100;
export const IFF_SIMPLEX: u32 = 0x800;
export const IFF_MULTICAST: u32 = 0x8000;

// if_type (IANA ifType values, as net/if_types.h)
export const IFT_ETHER: u32 = 0x6;
export const IFT_LOOP: u32 = 0x18;
export const IFT_BRIDGE: u32 = 0xd1;

// Address families (FreeBSD sys/socket.h values)
export const AF_INET: u32 = 2;
export const AF_INET6: u32 = 28;
export const AF_MAX_SLOTS: u32 = 4; // if_afdata slots: 0 = AF_INET, 1 = AF_INET6, 2-3 spare

export const ETHER_ADDR_LEN: u32 = 6;
export const ETHER_TYPE_LEN: u32 = 2;
export const ETHER_HDR_LEN: u32 = 14;
export const ETHER_VLAN_ENCAP_LEN: u32 = 4;
export const ETHER_MIN_LEN_NOFCS: u32 = 60; // 64 on the wire less the 4-byte FCS we never carry
export const ETHERMTU: u32 = 1500;
export const ETHERMTU_JUMBO: u32 = 9000;
export const IF_MAXMTU: u32 = 65535;
export const IF_MINMTU: u32 = 72;

export const ETHERTYPE_IP: u16 = 0x0800;
export const ETHERTYPE_ARP: u16 = 0x0806;
export const ETHERTYPE_VLAN: u16 = 0x8100;
export const ETHERTYPE_IPV6: u16 = 0x86dd;
export const ETHERTYPE_MIN: u16 = 0x0600; // below this the field is an 802.3 length

// if_capabilities / if_capenable (FreeBSD values): what the driver can offload / what is on.
export const IFCAP_RXCSUM: u32 = 0x00001; // accepts packets whose checksum was never computed (in-kernel peers)
export const IFCAP_TXCSUM: u32 = 0x00002; // transmits without computing transport checksums
export const IFCAP_TSO4: u32 = 0x00100; // transmits TCP/IPv4 segments larger than the MTU
export const IFCAP_TSO6: u32 = 0x00200; // transmits TCP/IPv6 segments larger than the MTU
export const IFCAP_RXCSUM_IPV6: u32 = 0x200000; // IFCAP_RXCSUM for IPv6
export const IFCAP_TXCSUM_IPV6: u32 = 0x400000; // IFCAP_TXCSUM for IPv6
export const IFCAP_OFFLOAD4: u32 = IFCAP_RXCSUM | IFCAP_TXCSUM | IFCAP_TSO4;
export const IFCAP_OFFLOAD6: u32 = IFCAP_RXCSUM_IPV6 | IFCAP_TXCSUM_IPV6 | IFCAP_TSO6;
export const IFCAP_OFFLOAD: u32 = IFCAP_OFFLOAD4 | IFCAP_OFFLOAD6;
/** Largest packet (IP header included) an interface with IFCAP_TSO4/6 accepts: IP_MAXPACKET. */
export const IF_HW_TSOMAX: u32 = 65535;

/** Capture directions (the ring record's dir). */
export const BPF_D_IN: u16 = 1;
export const BPF_D_OUT: u16 = 2;

export const IFNET_MAGIC: u32 = 0x49464e54; // "IFNT"

// Counter slots (if_data): u64 each, at Ifnet.counters + 8 * slot.
export const IFCOUNTER_IPACKETS: u32 = 0;
export const IFCOUNTER_IERRORS: u32 = 1;
export const IFCOUNTER_OPACKETS: u32 = 2;
export const IFCOUNTER_OERRORS: u32 = 3;
export const IFCOUNTER_COLLISIONS: u32 = 4;
export const IFCOUNTER_IBYTES: u32 = 5;
export const IFCOUNTER_OBYTES: u32 = 6;
export const IFCOUNTER_IMCASTS: u32 = 7;
export const IFCOUNTER_OMCASTS: u32 = 8;
export const IFCOUNTER_IQDROPS: u32 = 9;
export const IFCOUNTER_OQDROPS: u32 = 10;
export const IFCOUNTER_NOPROTO: u32 = 11;
export const IFCOUNTERS: u32 = 12;

/**
 * struct ifnet. Allocated by if_alloc from the kernel's "ifnet" zone and charged to the vnet
 * the interface is in (the charge moves with if_vmove). Handlers are table slots.
 */
@unmanaged export class Ifnet {
  if_magic: u32;
  if_index: u32; // unique within its current vnet, from 1
  if_vnet: usize; // struct vnet * it is in now
  if_home_vnet: usize; // struct vnet * it was created in (vnet_if_return sends it back)
  if_next: usize; // the vnet's interface list
  if_prev: usize;
  if_flags: u32; // IFF_*
  if_type: u32; // IFT_*
  if_mtu: u32;
  if_hdrlen: u32; // link header length (14 for Ethernet, 0 for loopback)
  if_softc: usize; // driver private
  if_transmit: u32; // (ifp, m) => i32: hand a frame to the driver (it owns m after)
  if_input: u32; // (ifp, m) => void: a frame arrived (ether_input for Ethernet)
  if_ioctl: u32; // (ifp, cmd, arg) => i32: flag/MTU/address changes the driver cares about
  if_cloner: usize; // cloner that made it, 0 = none
  if_bridge: usize; // bridge softc when a bridge member
  if_bpf: usize; // capture descriptors (list), 0 = none
  if_afdata0: usize; // per address family data, slot 0 = AF_INET
  if_afdata1: usize; // slot 1 = AF_INET6
  if_afdata2: usize;
  if_afdata3: usize;
  if_unit: u32;
  if_serial: u32; // kernel-wide serial number: a host handle stays bound to this interface only
  if_lladdr_lo: u32; // MAC bytes 0-3 (network order in memory)
  if_lladdr_hi: u32; // MAC bytes 4-5
  if_capabilities: u32; // IFCAP_* the driver can do
  if_capenable: u32; // IFCAP_* turned on (all of if_capabilities by default)
  if_hwassist: u32; // CSUM_* the driver does for packets sent now (it keeps this current)
  if_spare: u32;
  // then: name (IFNAMSIZ bytes), counters (IFCOUNTERS x u64)
}

export const IF_NAME_OFF: usize = offsetof<Ifnet>();
export const IF_COUNTERS_OFF: usize = (IF_NAME_OFF + IFNAMSIZ + 7) & ~7;
export const IFNET_SIZE: u32 = <u32>(IF_COUNTERS_OFF + IFCOUNTERS * 8);
export const IF_LLADDR_OFF: usize = offsetof<Ifnet>("if_lladdr_lo");

@inline export function if_name(ifp: usize): usize {
  return ifp + IF_NAME_OFF;
}

@inline export function if_lladdr(ifp: usize): usize {
  return ifp + IF_LLADDR_OFF;
}

@inline export function if_inc_counter(ifp: usize, which: u32, n: u64): void {
  const p = ifp + IF_COUNTERS_OFF + (<usize>which << 3);
  store<u64>(p, load<u64>(p) + n);
}

@inline export function if_get_counter(ifp: usize, which: u32): u64 {
  return load<u64>(ifp + IF_COUNTERS_OFF + (<usize>which << 3));
}
