// SPDX-License-Identifier: MIT
/*
 * Guest RAM allocation and the checked guest-physical translator.
 * Guest-controlled: gpa and len passed to gm_ptr()/gm_read()/gm_write() come
 * from guest registers, rings and tables; they are checked here.
 */
#include "vm/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

static bool range_ok(const struct gm_range *r, const struct gm_range *prev)
{
	const uint64_t page = 4096;

	if (r->size == 0 || (r->gpa | r->size) % page)
		return false;
	if (r->gpa + r->size < r->gpa)
		return false;
	return !prev || prev->gpa + prev->size <= r->gpa;
}

/* Host bytes a region takes: itself, rounded up, and the guard after it. */
static size_t slot_size(uint64_t size)
{
	return (size_t)((size + GM_ALIGN - 1) & ~(GM_ALIGN - 1)) +
	       GM_GUARD_SIZE;
}

int gm_alloc(struct guest_mem *gm, const struct gm_range *ranges,
	     unsigned int nr)
{
	size_t total = GM_GUARD_SIZE;
	uint8_t *base, *aligned, *p;
	unsigned int i;

	memset(gm, 0, sizeof(*gm));
	if (nr == 0 || nr > GM_MAX_REGIONS)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		if (!range_ok(&ranges[i], i ? &ranges[i - 1] : NULL))
			return -EINVAL;
		if (ranges[i].size >
		    SIZE_MAX - total - GM_GUARD_SIZE - GM_ALIGN)
			return -ENOMEM;
		total += slot_size(ranges[i].size);
	}

	/*
	 * One reservation, all PROT_NONE; regions are opened up inside it.
	 * GM_ALIGN extra lets the first region start on a 2 MiB boundary, and
	 * slot_size() keeps the others there: KVM can then back the guest
	 * with huge pages, which matters a lot for its speed.
	 */
	if (total > SIZE_MAX - GM_ALIGN)
		return -ENOMEM;
	total += GM_ALIGN;
	base = mmap(NULL, total, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	aligned = (uint8_t *)(((uintptr_t)base + GM_ALIGN - 1) &
			      ~(uintptr_t)(GM_ALIGN - 1));
	p = aligned + GM_GUARD_SIZE;
	for (i = 0; i < nr; i++) {
		if (mprotect(p, ranges[i].size, PROT_READ | PROT_WRITE)) {
			int r = -errno;

			munmap(base, total);
			return r;
		}
		/* Guest RAM has no place in a core dump of the VMM. */
		madvise(p, ranges[i].size, MADV_DONTDUMP);
		madvise(p, ranges[i].size, MADV_HUGEPAGE);
		gm->regions[i] = (struct gm_region){
			.gpa = ranges[i].gpa,
			.size = ranges[i].size,
			.host = p,
		};
		p += slot_size(ranges[i].size);
	}
	gm->nr_regions = nr;
	gm->reservation = base;
	gm->reservation_len = total;
	return 0;
}

void gm_free(struct guest_mem *gm)
{
	if (gm->reservation)
		munmap(gm->reservation, gm->reservation_len);
	memset(gm, 0, sizeof(*gm));
}

void *gm_ptr(const struct guest_mem *gm, gpa_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < gm->nr_regions; i++) {
		const struct gm_region *r = &gm->regions[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		/* Written so that no sum can overflow. */
		if (off >= r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

int gm_read(const struct guest_mem *gm, gpa_t gpa, void *dst, uint64_t len)
{
	void *src = gm_ptr(gm, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, gpa_t gpa, const void *src,
	     uint64_t len)
{
	void *dst = gm_ptr(gm, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

uint64_t gm_ram_size(const struct guest_mem *gm)
{
	uint64_t total = 0;
	unsigned int i;

	for (i = 0; i < gm->nr_regions; i++)
		total += gm->regions[i].size;
	return total;
}
