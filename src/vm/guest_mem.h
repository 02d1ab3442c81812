/* SPDX-License-Identifier: MIT */
/*
 * Guest physical memory: the one checked translator from guest-physical
 * addresses to host memory.
 *
 * Every access by the VMM to guest RAM goes through gm_ptr(), gm_read() or
 * gm_write(). They check that the whole range [gpa, gpa + len) lies inside
 * one RAM region, without overflow. No other code does pointer arithmetic on
 * guest memory. Guest addresses have their own type, gpa_t, which is an
 * integer: it cannot be used as a host pointer without a cast.
 *
 * Host memory for each region sits between PROT_NONE guard regions, so an
 * overrun by the VMM faults instead of touching other host data.
 */
#ifndef MICA_VM_GUEST_MEM_H
#define MICA_VM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t gpa_t;

#define GM_MAX_REGIONS 8
/* Size of the inaccessible host mapping before and after each region. */
#define GM_GUARD_SIZE (2ull << 20)
/* Host alignment of each region's start, for transparent huge pages. */
#define GM_ALIGN (2ull << 20)

struct gm_region {
	gpa_t gpa;
	uint64_t size;
	uint8_t *host; /* start of the region's host mapping */
};

struct guest_mem {
	struct gm_region regions[GM_MAX_REGIONS];
	unsigned int nr_regions;
	void *reservation; /* host mapping including guards */
	size_t reservation_len;
};

struct gm_range {
	gpa_t gpa;
	uint64_t size;
};

/*
 * Maps host memory for the given RAM ranges, which must be page aligned,
 * sorted and disjoint. Returns 0 or -errno.
 */
int gm_alloc(struct guest_mem *gm, const struct gm_range *ranges,
	     unsigned int nr);
void gm_free(struct guest_mem *gm);

/* Host pointer for [gpa, gpa + len) if it lies in one region, else NULL. */
void *gm_ptr(const struct guest_mem *gm, gpa_t gpa, uint64_t len);

/* Copy out of / into guest RAM. Returns 0 or -EFAULT. */
int gm_read(const struct guest_mem *gm, gpa_t gpa, void *dst, uint64_t len);
int gm_write(const struct guest_mem *gm, gpa_t gpa, const void *src,
	     uint64_t len);

/* Total bytes of RAM in all regions. */
uint64_t gm_ram_size(const struct guest_mem *gm);

#endif
