/* SPDX-License-Identifier: MIT */
/*
 * The guest-physical and port-I/O map of a mica x86-64 machine.
 *
 * Ports: 0x60/0x64 i8042, 0x70-0x71 RTC, 0xf4 test exit, 0x3f8 COM1,
 * 0x600-0x60b ACPI PM, 0xcf8-0xcff PCI configuration (0xcf9 bytes: the
 * reset register), 0xc000-0xffff the PCI I/O window for I/O BARs.
 *
 *   0x00000000  real-mode IVT and BIOS data area (left zero)
 *   0x00000500  GDT used for the boot entry
 *   0x00001000  PVH hvm_start_info, then its memory map
 *   0x00007000  Linux boot_params ("zero page")
 *   0x00009000  identity page tables for 64-bit entry (PML4, PDPT, 4 PDs)
 *   0x00020000  kernel command line
 *   0x0009fc00  EBDA (reserved)
 *   0x000e0000  ACPI tables, RSDP first (reserved; in the legacy BIOS area
 *               that Linux scans for the RSDP)
 *   0x00100000  kernel
 *   ...         RAM up to min(size, 3 GiB)
 *   0xc0000000  start of the 32-bit MMIO hole: the PCI memory window,
 *               512 MiB, where mica places 32-bit memory BARs
 *   0xe0000000  PCIe ECAM for bus 0 (1 MiB; announced in the MCFG, reserved
 *               in e820 and by a PNP0C02 device in the DSDT)
 *   0xfebff000  test device scratch registers (only with --debug-exit)
 *   0xfec00000  IOAPIC (in-kernel)
 *   0xfee00000  local APICs (in-kernel)
 *   0x100000000 RAM above 4 GiB, if the size asks for it
 */
#ifndef MICA_ARCH_X86_64_LAYOUT_H
#define MICA_ARCH_X86_64_LAYOUT_H

#define LAYOUT_GDT 0x500ull
#define LAYOUT_PVH_START_INFO 0x1000ull
#define LAYOUT_PVH_MEMMAP 0x1800ull /* after the start info, same page */
#define LAYOUT_ZERO_PAGE 0x7000ull
#define LAYOUT_PML4 0x9000ull
#define LAYOUT_PDPT 0xa000ull
#define LAYOUT_PD 0xb000ull /* 4 pages: 0xb000..0xefff, maps 4 GiB */
#define LAYOUT_CMDLINE 0x20000ull
#define LAYOUT_CMDLINE_MAX 0x10000ull /* mica's own limit, 64 KiB */
#define LAYOUT_EBDA 0x9fc00ull
#define LAYOUT_BIOS_START 0xa0000ull
#define LAYOUT_ACPI 0xe0000ull
#define LAYOUT_ACPI_SIZE 0x20000ull /* up to 1 MiB */
#define LAYOUT_HIGH_MEM 0x100000ull /* 1 MiB: where kernels load */

#define LAYOUT_MMIO_HOLE 0xc0000000ull
#define LAYOUT_PCI_MMIO 0xc0000000ull /* PCI memory window */
#define LAYOUT_PCI_MMIO_SIZE 0x20000000ull /* up to 0xdfffffff */
#define LAYOUT_PCI_ECAM 0xe0000000ull /* ECAM, bus 0 only */
#define LAYOUT_PCI_ECAM_SIZE 0x100000ull /* 32 devices x 8 functions x 4K */
#define LAYOUT_PCI_BUS_MIN 0 /* the MCFG's and _CRS's bus range */
#define LAYOUT_PCI_BUS_MAX 0
#define LAYOUT_4G 0x100000000ull
#define LAYOUT_TESTDEV_MMIO 0xfebff000ull /* test-only, --debug-exit */
#define LAYOUT_TESTDEV_MMIO_SIZE 0x1000ull
#define LAYOUT_IOAPIC 0xfec00000ull
#define LAYOUT_LAPIC 0xfee00000ull
#define LAYOUT_TSS 0xfffbd000ull /* KVM_SET_TSS_ADDR, 3 pages */
#define LAYOUT_IDENTITY_MAP 0xfffbc000ull /* KVM_SET_IDENTITY_MAP_ADDR */

/* Port I/O map. */
#define PORT_I8042_DATA 0x60
#define PORT_I8042_CMD 0x64
#define PORT_RTC 0x70 /* index 0x70, data 0x71 */
#define PORT_DEBUG_EXIT 0xf4 /* test-only, --debug-exit */
#define PORT_COM1 0x3f8
#define PORT_PM_BASE 0x600
#define PORT_PM1A_EVT (PORT_PM_BASE + 0x0) /* 4 bytes: status, enable */
#define PORT_PM1A_CNT (PORT_PM_BASE + 0x4) /* 2 bytes */
#define PORT_PM_TMR (PORT_PM_BASE + 0x8) /* 4 bytes */
#define PORT_PM_LEN 0xc
#define PORT_PCI_CONFIG 0xcf8 /* 8 ports: CONFIG_ADDRESS, CONFIG_DATA */
#define PORT_PCI_CONFIG_LEN 8
#define PORT_RESET 0xcf9 /* reset control; also the FADT reset register */
#define PORT_PCI_IO 0xc000 /* PCI I/O window, up to 0xffff */
#define PORT_PCI_IO_SIZE 0x4000

/* ISA interrupts (GSI numbers, identity-mapped except IRQ0 -> GSI2). */
#define IRQ_I8042_KBD 1
#define IRQ_COM1 4
#define IRQ_RTC 8
#define IRQ_SCI 9
#define IRQ_I8042_AUX 12

/*
 * PCI INTx: IOAPIC pins 16-23, level-triggered. Pin p (0 = INTA) of slot s
 * is GSI PCI_INTX_GSI_BASE + (s + p) % PCI_INTX_GSI_COUNT, the swizzle the
 * DSDT's _PRT gives the guest.
 */
#define PCI_INTX_GSI_BASE 16
#define PCI_INTX_GSI_COUNT 8

#endif
