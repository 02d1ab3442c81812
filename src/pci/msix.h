/* SPDX-License-Identifier: MIT */
/*
 * MSI-X state of one PCI function (PCI Local Bus 3.0, 6.8.2; PCIe 4.0,
 * 7.7.2): the vector table and pending-bit array that live in a memory
 * BAR, the function's enable and mask bits, and one eventfd per vector
 * that KVM turns into the vector's message (an irqfd on a GSI route).
 *
 * Internal to src/pci: pci.c owns the capability in configuration space
 * and routes BAR accesses here; devices use pci_msix_*() from pci.h.
 */
#ifndef MICA_PCI_MSIX_H
#define MICA_PCI_MSIX_H

#include <stdbool.h>
#include <stdint.h>

struct device_host;
struct msix;

#define MSIX_ENTRY_SIZE 16
#define MSIX_ENTRY_ADDR_LO 0
#define MSIX_ENTRY_ADDR_HI 4
#define MSIX_ENTRY_DATA 8
#define MSIX_ENTRY_CTRL 12
#define MSIX_ENTRY_CTRL_MASKED 0x1u

/* Message Control (the capability's first word after its header). */
#define MSIX_CTRL_TABLE_SIZE 0x07ffu /* N - 1 */
#define MSIX_CTRL_MASKALL 0x4000u
#define MSIX_CTRL_ENABLE 0x8000u
#define MSIX_BIR_MASK 0x7u

static inline uint32_t msix_table_len(unsigned int nr)
{
	return nr * MSIX_ENTRY_SIZE;
}

static inline uint32_t msix_pba_len(unsigned int nr)
{
	return (nr + 63) / 64 * 8;
}

/*
 * nr vectors (1 .. PCI_MSIX_MAX_VECTORS), the table at table_off and the
 * PBA at pba_off of BAR bar. host's MSI route hooks are used if set; host
 * must outlive the msix. name is for messages. Returns 0 or -errno.
 */
int msix_create(struct msix **out, const struct device_host *host,
		const char *name, unsigned int nr, unsigned int bar,
		uint32_t table_off, uint32_t pba_off);
/* Deletes the routes and closes the eventfds. NULL is fine. */
void msix_destroy(struct msix *m);

/*
 * A BAR access: returns false if [off, off + size) of BAR bar does not
 * touch the table or the PBA (the device's ops serve it). Otherwise it is
 * handled here: a read stores its value in *value (all ones for an access
 * that straddles the edge of the table or PBA), a write updates the table
 * (the PBA is read-only).
 */
bool msix_bar_access(struct msix *m, unsigned int bar, uint64_t off,
		     unsigned int size, uint64_t *value, bool write);

/* Message Control was written: the new enable and function mask bits. */
void msix_set_control(struct msix *m, bool enable, bool mask_all);

void msix_notify(struct msix *m, unsigned int vector);
bool msix_enabled(struct msix *m);
int msix_vector_fd(struct msix *m, unsigned int vector);

#endif
