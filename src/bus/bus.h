/* SPDX-License-Identifier: MIT */
/*
 * Address-range dispatch for port I/O and MMIO.
 *
 * A device registers [base, base + len) with an ops struct. Accesses are 1,
 * 2, 4 or 8 bytes wide; values are little-endian integers. A device locks its
 * own state: the bus takes only a read lock on its range table, so vCPUs
 * dispatch in parallel. Registration may happen at run time (PCI BARs move),
 * under the write lock.
 */
#ifndef MICA_BUS_BUS_H
#define MICA_BUS_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct bus_ops {
	/* offset is relative to the registered base. */
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned int size);
	void (*write)(void *opaque, uint64_t offset, unsigned int size,
		      uint64_t value);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	pthread_rwlock_t lock;
	struct bus_range *ranges; /* sorted by base, disjoint */
	unsigned int nr, cap;
};

void bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);

/* Returns 0, -EINVAL for an empty or wrapping range, -EEXIST on overlap. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque, const char *name);
/* Returns 0 or -ENOENT if no range starts at base. */
int bus_unregister(struct bus *bus, uint64_t base);

/*
 * Dispatch one access. Returns false if no device claims the whole access;
 * then a read yields all ones, as on a real bus with nothing driving it.
 */
bool bus_read(struct bus *bus, uint64_t addr, unsigned int size,
	      uint64_t *value);
bool bus_write(struct bus *bus, uint64_t addr, unsigned int size,
	       uint64_t value);

#endif
