/* SPDX-License-Identifier: MIT */
/*
 * PCI: one host bridge (bus 0) reached through configuration mechanism #1
 * (ports 0xCF8/0xCFC) and PCIe ECAM (announced in ACPI MCFG), and the
 * endpoint devices plugged into it.
 *
 * mica plays the firmware's part: it places every BAR in the PCI windows and
 * enables decoding before the guest starts, so Linux keeps the assignment.
 * The guest may move BARs later; the host bridge dispatches BAR accesses
 * itself (one window per address space on the VM's buses), so a BAR move is
 * a table update under the bridge's own lock, never a bus re-registration
 * from inside a bus callback.
 *
 * Interrupts: MSI-X (pci/msix.c) through KVM GSI routes and irqfds, and
 * INTx as a fallback (pin A, level triggered, routed by the DSDT's _PRT).
 */
#ifndef MICA_PCI_PCI_H
#define MICA_PCI_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"

#define PCI_CFG_SIZE 4096 /* PCIe extended configuration space */
#define PCI_NUM_BARS 6
#define PCI_MAX_SLOTS 32 /* bus 0, function 0 of each slot */
#define PCI_CAP_START 0x40 /* capabilities live in [0x40, 0x100) */
#define PCI_MSIX_MAX_VECTORS 2048

/* Configuration header registers (PCI Local Bus 3.0, 6.1; type 0). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_PARITY 0x0040
#define PCI_COMMAND_SERR 0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS 0x06
#define PCI_STATUS_INTERRUPT 0x0008
#define PCI_STATUS_CAP_LIST 0x0010
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_LATENCY_TIMER 0x0d
#define PCI_HEADER_TYPE 0x0e
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_BASE_ADDRESS_SPACE_IO 0x01
#define PCI_BASE_ADDRESS_MEM_PREFETCH 0x08
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_CAP_ID_MSIX 0x11
#define PCI_CAP_ID_VNDR 0x09

/* The host bridge, device 00.0: a generic PCIe host bridge. */
#define PCI_HOST_VENDOR_ID 0x1b36 /* Red Hat, Inc. */
#define PCI_HOST_DEVICE_ID 0x0008 /* "QEMU PCIe Host bridge" ID */
#define PCI_CLASS_BRIDGE_HOST 0x060000

struct device_host;
struct msix;
struct pci_device;
struct pci_host;

struct pci_bar_info {
	uint64_t size; /* a power of two; 0: BAR unused */
	bool io; /* I/O space; else 32-bit memory space */
	bool prefetchable;
	/* Accesses inside the BAR; offset is relative to its start. */
	const struct bus_ops *ops;
	void *opaque;
};

struct pci_device_info {
	const char *name; /* for messages, e.g. "virtio-blk0" */
	uint16_t vendor_id, device_id;
	uint16_t subsys_vendor_id, subsys_id;
	uint8_t revision;
	uint32_t class_code; /* base << 16 | sub << 8 | prog-if */
	bool intx; /* uses interrupt pin A */
	struct pci_bar_info bars[PCI_NUM_BARS];
	/*
	 * Optional: told after BAR bar started (mapped) or stopped decoding
	 * at addr, from the thread of the configuration write. Used to move
	 * ioeventfds along with a BAR.
	 */
	void (*bar_moved)(void *opaque, unsigned int bar, bool mapped,
			  uint64_t addr);
	/*
	 * Optional: the device serves part of its capability area itself
	 * (virtio's PCI_CFG window). Called for every configuration access
	 * that lies in [PCI_CAP_START, 0x100): cfg_read() before the bytes
	 * are read from dev->cfg (it may refresh them), cfg_write() after
	 * the write was stored (masks applied). From the vCPU thread, with
	 * the host's configuration lock held (see "Locking" below).
	 */
	void (*cfg_read)(void *opaque, struct pci_device *dev, unsigned int off,
			 unsigned int len);
	void (*cfg_write)(void *opaque, struct pci_device *dev,
			  unsigned int off, unsigned int len);
	void *opaque;
};

/* One endpoint function. Owned by its device; registered with the host. */
struct pci_device {
	struct pci_host *host;
	struct pci_device_info info;
	uint8_t slot;
	/* Configuration space, what the guest may write, write-1-to-clear. */
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
	uint8_t w1cmask[PCI_CFG_SIZE];
	uint16_t cap_end; /* next free byte for a capability (<= 0x100) */
	uint64_t bar_addr[PCI_NUM_BARS];
	bool bar_mapped[PCI_NUM_BARS];
	struct msix *msix; /* NULL without MSI-X */
	unsigned int msix_cap; /* offset of the MSI-X capability, or 0 */
	unsigned int intx_gsi;
	bool intx_level; /* what the device drives (pci_set_intx) */
	bool intx_disabled; /* the command register's INTx disable bit */
	bool intx_asserted; /* what it contributes: level && !INTx disable */
};

/*
 * Locking. Configuration accesses (CF8/CFC, ECAM, the functions below that
 * change configuration space) are serialised by the host's configuration
 * lock; bar_moved(), cfg_read() and cfg_write() run under it, so they must
 * not call pci_device_register/unregister, pci_add_capability or
 * pci_msix_init. BAR accesses are dispatched under the host's BAR table
 * read lock; BAR ops must not call functions that take the configuration
 * lock either. pci_msix_notify(), pci_msix_enabled() and pci_set_intx()
 * take only leaf locks and may be called from anywhere, BAR ops and the
 * hooks included. Order: configuration lock -> MSI-X lock -> the VM's
 * route lock; configuration lock -> INTx lock.
 */

/*
 * Creates the host bridge (device 00.0) and registers CF8/CFC (forwarding
 * port 0xCF9 to the reset register), ECAM and the BAR windows on the
 * host's buses. Returns 0 or -errno.
 */
int pci_host_init(struct pci_host **out, const struct device_host *host);
void pci_host_destroy(struct pci_host *h);

/*
 * The reset register shares the ports 0xCF8-0xCFB with CONFIG_ADDRESS,
 * which only decodes dword accesses: the host forwards byte accesses at
 * 0xCF9 to ops (offset 0, size 1), and ignores other byte and word
 * accesses there (reads: all ones). ops NULL detaches. Call before the
 * guest runs or after it stopped.
 */
void pci_host_set_cf9(struct pci_host *h, const struct bus_ops *ops,
		      void *opaque);

/*
 * Plugs dev into the next free slot with the identity and BARs in info
 * (copied), places the BARs and enables decoding. Returns 0, -ENOSPC when
 * the bus or a window is full, -EINVAL for a bad BAR size.
 *
 * dev must be zeroed before (or unregistered). BAR sizes: memory 16 bytes
 * to the window's size (placed on at least 4 KiB boundaries, so no two
 * devices share a page), I/O 4 to 256 bytes. After it returns,
 * dev->bar_addr[] and dev->bar_mapped[] hold the initial placement;
 * bar_moved() is called only for later changes made by the guest (never
 * by pci_device_register or pci_device_unregister). Capabilities and
 * MSI-X are added after registering, before the guest runs.
 */
int pci_device_register(struct pci_host *h, struct pci_device *dev,
			const struct pci_device_info *info);
/* Unplugs dev (at VM teardown); its BARs stop decoding. */
void pci_device_unregister(struct pci_device *dev);

/*
 * Appends a capability: cap_id, then body (len bytes, which start after the
 * 2-byte header: cap id and next pointer). Returns its offset in
 * configuration space (dword-aligned, in [PCI_CAP_START, 0x100)), -ENOSPC,
 * or -EINVAL if dev is not registered. Bytes in the body are read-only
 * unless pci_set_wmask() says otherwise; pci_set_wmask() opens bytes of the
 * capability area only (the header's masks are the host's).
 */
int pci_add_capability(struct pci_device *dev, uint8_t cap_id, const void *body,
		       unsigned int len);
void pci_set_wmask(struct pci_device *dev, unsigned int off, unsigned int len);

/*
 * MSI-X with nr_vectors entries; the table and the PBA live in BAR bar at
 * the given offsets. The host bridge serves accesses to those two ranges
 * itself; the device's BAR ops never see them. Returns 0 or -errno.
 */
int pci_msix_init(struct pci_device *dev, unsigned int bar, uint32_t table_off,
		  uint32_t pba_off, unsigned int nr_vectors);
bool pci_msix_enabled(const struct pci_device *dev);
/*
 * The eventfd that delivers vector, once the guest enabled MSI-X and
 * unmasked the vector (else -1). With the device_host MSI hooks it is an
 * irqfd of KVM; without them (unit tests) nobody reads it, so a test can
 * count deliveries by reading it.
 */
int pci_msix_vector_fd(const struct pci_device *dev, unsigned int vector);
/*
 * Signals vector (through its irqfd), or marks it pending if masked.
 * Out-of-range vectors (the guest chose them) are ignored. Any thread.
 */
void pci_msix_notify(struct pci_device *dev, unsigned int vector);

/* Drives INTx (pin A) of dev. Shared lines are ORed by the host. */
void pci_set_intx(struct pci_device *dev, bool level);

/*
 * An access to BAR bar of dev at offset off, as if the guest made it,
 * whether the BAR decodes or not: the MSI-X table and PBA are served by
 * the host, the rest by the BAR's ops. For configuration-space windows
 * into a BAR (virtio's PCI_CFG). size is 1, 2, 4 or 8; an access outside
 * the BAR reads all ones and writes nothing (the read returns false).
 */
bool pci_bar_read(struct pci_device *dev, unsigned int bar, uint64_t off,
		  unsigned int size, uint64_t *value);
bool pci_bar_write(struct pci_device *dev, unsigned int bar, uint64_t off,
		   unsigned int size, uint64_t value);

#endif
