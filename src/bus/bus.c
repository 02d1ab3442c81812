// SPDX-License-Identifier: MIT
/*
 * Port-I/O and MMIO range dispatch. Guest-controlled: the address and size of
 * every access (from KVM exits). An access that straddles the end of a range
 * is not dispatched.
 */
#include "bus/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	bus->ranges = NULL;
	bus->nr = bus->cap = 0;
}

/* Index of the first range whose end is above addr. */
static unsigned int lower_bound(const struct bus *bus, uint64_t addr)
{
	unsigned int lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (r->base + (r->len - 1) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque, const char *name)
{
	unsigned int i;
	int rc = 0;

	if (len == 0 || base + (len - 1) < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	i = lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base <= base + (len - 1)) {
		rc = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap) {
		unsigned int cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *n = realloc(bus->ranges, cap * sizeof(*n));

		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		bus->ranges = n;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i],
		(bus->nr - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct bus_range){
		.base = base,
		.len = len,
		.ops = ops,
		.opaque = opaque,
		.name = name,
	};
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

int bus_unregister(struct bus *bus, uint64_t base)
{
	unsigned int i;
	int rc = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base == base) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nr - i - 1) * sizeof(bus->ranges[0]));
		bus->nr--;
		rc = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

/* Called with the read lock held. */
static const struct bus_range *find(const struct bus *bus, uint64_t addr,
				    unsigned int size)
{
	unsigned int i = lower_bound(bus, addr);
	const struct bus_range *r;

	if (i >= bus->nr)
		return NULL;
	r = &bus->ranges[i];
	if (addr < r->base || size > r->len || addr - r->base > r->len - size)
		return NULL;
	return r;
}

static bool size_ok(unsigned int size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

bool bus_read(struct bus *bus, uint64_t addr, unsigned int size,
	      uint64_t *value)
{
	const struct bus_range *r;
	bool found = false;

	*value = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
	if (!size_ok(size))
		return false;
	pthread_rwlock_rdlock(&bus->lock);
	r = find(bus, addr, size);
	if (r && r->ops->read) {
		*value = r->ops->read(r->opaque, addr - r->base, size);
		found = true;
	}
	pthread_rwlock_unlock(&bus->lock);
	return found;
}

bool bus_write(struct bus *bus, uint64_t addr, unsigned int size,
	       uint64_t value)
{
	const struct bus_range *r;
	bool found = false;

	if (!size_ok(size))
		return false;
	pthread_rwlock_rdlock(&bus->lock);
	r = find(bus, addr, size);
	if (r && r->ops->write) {
		r->ops->write(r->opaque, addr - r->base, size, value);
		found = true;
	}
	pthread_rwlock_unlock(&bus->lock);
	return found;
}
