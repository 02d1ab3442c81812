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

struct device_host;
struct msix;
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
	uint8_t cap_end; /* next free byte for a capability */
	uint64_t bar_addr[PCI_NUM_BARS];
	bool bar_mapped[PCI_NUM_BARS];
	struct msix *msix; /* NULL without MSI-X */
	unsigned int intx_gsi;
	bool intx_level;
};

/*
 * Creates the host bridge (device 00.0) and registers CF8/CFC (forwarding
 * port 0xCF9 to the reset register), ECAM and the BAR windows on the
 * host's buses. Returns 0 or -errno.
 */
int pci_host_init(struct pci_host **out, const struct device_host *host);
void pci_host_destroy(struct pci_host *h);

/*
 * Plugs dev into the next free slot with the identity and BARs in info
 * (copied), places the BARs and enables decoding. Returns 0, -ENOSPC when
 * the bus or a window is full, -EINVAL for a bad BAR size.
 */
int pci_device_register(struct pci_host *h, struct pci_device *dev,
			const struct pci_device_info *info);
/* Unplugs dev (at VM teardown); its BARs stop decoding. */
void pci_device_unregister(struct pci_device *dev);

/*
 * Appends a capability: cap_id, then body (len bytes, which start after the
 * 2-byte header: cap id and next pointer). Returns its offset in
 * configuration space, or -ENOSPC. Bytes in the body are read-only unless
 * pci_set_wmask() says otherwise.
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
 * Signals vector (through its irqfd), or marks it pending if masked.
 * Out-of-range vectors (the guest chose them) are ignored. Any thread.
 */
void pci_msix_notify(struct pci_device *dev, unsigned int vector);

/* Drives INTx (pin A) of dev. Shared lines are ORed by the host. */
void pci_set_intx(struct pci_device *dev, bool level);

#endif
