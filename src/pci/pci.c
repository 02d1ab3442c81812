// SPDX-License-Identifier: MIT
/*
 * The PCI host bridge of a mica machine: bus 0 behind configuration
 * mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2: CONFIG_ADDRESS at 0xCF8,
 * CONFIG_DATA at 0xCFC-0xCFF) and PCIe ECAM (PCIe 4.0, 7.2.2; announced in
 * the ACPI MCFG), type 0 configuration headers (PCI 3.0, 6.1-6.2), BARs
 * placed in the windows of layout.h, capability lists, and INTx.
 *
 * Guest-controlled: CONFIG_ADDRESS; the offset, width and value of every
 * configuration access (CF8/CFC and ECAM); the writable registers
 * (command, BARs, interrupt line, cache line size, what devices open with
 * pci_set_wmask); the address and width of every access to the windows.
 * Nothing the guest writes is used without a check: config accesses that
 * cross a dword are rejected (reads all ones), as PCIe forbids them; BARs
 * decode only when their address lies inside the window of their kind, so
 * a BAR moved elsewhere simply stops decoding; overlapping BARs resolve to
 * the first in slot order.
 *
 * The host registers one range per window on the VM's buses and finds the
 * BAR under its own rwlock (the bus holds its own read lock during the
 * callback, so changing the bus from a configuration write would deadlock).
 * Locking: see pci.h.
 */
#include "pci/pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "devices/device.h"
#include "pci/msix.h"
#include "util/log.h"

#define CONFIG_ADDRESS_ENABLE 0x80000000u
/* Enable, bus, device, function, register; reserved and low bits read 0. */
#define CONFIG_ADDRESS_MASK 0x80fffffcu

#define PCI_COMMAND_WMASK                                           \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
	 PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
/* Parity, target/master abort, SERR, parity error: write 1 to clear. */
#define PCI_STATUS_W1C 0xf900u

#define PCI_BAR_IO_MASK 0xfffcu /* I/O BARs decode 16 bits on x86 */
#define PCI_BAR_MEM_MASK 0xfffffff0u
#define PCI_BAR_MEM_MIN 16u
#define PCI_BAR_MEM_ALIGN 4096u
#define PCI_BAR_IO_MIN 4u
#define PCI_BAR_IO_MAX 256u
#define PCI_MAX_CAPS 48 /* (0x100 - 0x40) / 4: bounds list walks */

#define PCI_MAX_MAPS (PCI_MAX_SLOTS * PCI_NUM_BARS)

struct pci_map {
	uint64_t base, size;
	struct pci_device *dev;
	unsigned int bar;
	bool io;
};

struct bar_event {
	struct pci_device *dev;
	unsigned int bar;
	bool mapped;
	uint64_t addr;
};

struct pci_host {
	struct device_host dh; /* a copy: hooks and buses */
	pthread_mutex_t cfg_lock;
	pthread_rwlock_t map_lock;
	pthread_mutex_t intx_lock;
	unsigned int nr_ranges; /* of host_ranges[], registered in order */

	uint32_t config_address;
	const struct bus_ops *cf9_ops;
	void *cf9_opaque;

	struct pci_device *slots[PCI_MAX_SLOTS];
	struct pci_device bridge;

	struct pci_map maps[PCI_MAX_MAPS]; /* under map_lock */
	unsigned int nr_maps;

	uint64_t mmio_next; /* bump allocators for BAR placement */
	uint64_t io_next;
	unsigned int intx_count[PCI_INTX_GSI_COUNT]; /* under intx_lock */
};

static uint64_t ones(unsigned int size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static bool touches(unsigned int reg, unsigned int size, unsigned int start,
		    unsigned int len)
{
	return reg < start + len && start < reg + size;
}

/* ---- BAR decoding ---- */

static bool in_window(bool io, uint64_t addr, uint64_t size)
{
	uint64_t base = io ? PORT_PCI_IO : LAYOUT_PCI_MMIO;
	uint64_t len = io ? PORT_PCI_IO_SIZE : LAYOUT_PCI_MMIO_SIZE;

	return addr >= base && size <= len && addr - base <= len - size;
}

/* The address BAR bar of dev is programmed with (config lock held). */
static uint64_t bar_programmed(const struct pci_device *dev, unsigned int bar)
{
	uint32_t raw = get32(dev->cfg + PCI_BASE_ADDRESS_0 + 4 * bar);

	return dev->info.bars[bar].io ? raw & PCI_BAR_IO_MASK :
					raw & PCI_BAR_MEM_MASK;
}

static bool bar_decodes(const struct pci_device *dev, unsigned int bar,
			uint64_t addr)
{
	const struct pci_bar_info *b = &dev->info.bars[bar];
	uint16_t cmd = get16(dev->cfg + PCI_COMMAND);

	if (!b->size)
		return false;
	if (!(cmd & (b->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)))
		return false;
	return in_window(b->io, addr, b->size);
}

/* Rebuilds the dispatch table from every device's state (config lock). */
static void rebuild_maps(struct pci_host *h)
{
	unsigned int n = 0;

	pthread_rwlock_wrlock(&h->map_lock);
	for (unsigned int s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = h->slots[s];

		for (unsigned int b = 0; dev && b < PCI_NUM_BARS; b++) {
			if (!dev->bar_mapped[b])
				continue;
			h->maps[n++] = (struct pci_map){
				.base = dev->bar_addr[b],
				.size = dev->info.bars[b].size,
				.dev = dev,
				.bar = b,
				.io = dev->info.bars[b].io,
			};
		}
	}
	h->nr_maps = n;
	pthread_rwlock_unlock(&h->map_lock);
}

/*
 * After a write to the command register or a BAR: brings bar_addr and
 * bar_mapped up to date and records what changed in ev (up to two events
 * per BAR). Returns the number of events.
 */
static unsigned int update_bars(struct pci_host *h, struct pci_device *dev,
				struct bar_event ev[2 * PCI_NUM_BARS])
{
	unsigned int n = 0;

	for (unsigned int b = 0; b < PCI_NUM_BARS; b++) {
		uint64_t addr, old = dev->bar_addr[b];
		bool on, was = dev->bar_mapped[b];

		if (!dev->info.bars[b].size)
			continue;
		addr = bar_programmed(dev, b);
		on = bar_decodes(dev, b, addr);
		dev->bar_addr[b] = addr;
		dev->bar_mapped[b] = on;
		if (was == on && (!on || old == addr))
			continue;
		if (was)
			ev[n++] = (struct bar_event){ dev, b, false, old };
		if (on)
			ev[n++] = (struct bar_event){ dev, b, true, addr };
	}
	if (n)
		rebuild_maps(h);
	return n;
}

static void report_bar_events(const struct bar_event *ev, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		const struct pci_device_info *info = &ev[i].dev->info;

		if (info->bar_moved)
			info->bar_moved(info->opaque, ev[i].bar, ev[i].mapped,
					ev[i].addr);
	}
}

/* ---- INTx ---- */

/* With intx_lock held: propagates dev's contribution to its shared GSI. */
static void intx_update(struct pci_host *h, struct pci_device *dev)
{
	bool want = dev->intx_level && !dev->intx_disabled;
	unsigned int idx = dev->intx_gsi - PCI_INTX_GSI_BASE;
	bool before, after;

	if (want == dev->intx_asserted || idx >= PCI_INTX_GSI_COUNT)
		return;
	before = h->intx_count[idx] > 0;
	if (want)
		h->intx_count[idx]++;
	else
		h->intx_count[idx]--;
	dev->intx_asserted = want;
	after = h->intx_count[idx] > 0;
	if (before != after && h->dh.irq_set_level)
		h->dh.irq_set_level(h->dh.irq_opaque, dev->intx_gsi, after);
}

void pci_set_intx(struct pci_device *dev, bool level)
{
	struct pci_host *h = dev->host;

	if (!h || !dev->info.intx)
		return;
	pthread_mutex_lock(&h->intx_lock);
	dev->intx_level = level;
	intx_update(h, dev);
	pthread_mutex_unlock(&h->intx_lock);
}

/* ---- Configuration space ---- */

static struct pci_device *cfg_device(struct pci_host *h, unsigned int bus,
				     unsigned int slot, unsigned int fn)
{
	/* Single-function devices on bus 0; functions 1-7 are absent. */
	if (bus != 0 || fn != 0 || slot >= PCI_MAX_SLOTS)
		return NULL;
	return h->slots[slot];
}

static bool cfg_access_ok(const struct pci_device *dev, unsigned int reg,
			  unsigned int size)
{
	if ((size != 1 && size != 2 && size != 4) || (reg & 3) + size > 4 ||
	    reg + size > PCI_CFG_SIZE) {
		log_guest("pci %02x.0: config access of %u bytes at 0x%x "
			  "crosses a dword",
			  dev->slot, size, reg);
		return false;
	}
	return true;
}

static bool in_cap_area(unsigned int reg, unsigned int size)
{
	return reg >= PCI_CAP_START && reg + size <= 0x100;
}

/* With cfg_lock held. */
static uint64_t cfg_read(struct pci_host *h, unsigned int bus,
			 unsigned int slot, unsigned int fn, unsigned int reg,
			 unsigned int size)
{
	struct pci_device *dev = cfg_device(h, bus, slot, fn);
	uint64_t v = 0;
	uint8_t status;

	if (!dev)
		return ones(size);
	if (!cfg_access_ok(dev, reg, size))
		return ones(size);
	if (in_cap_area(reg, size) && dev->info.cfg_read)
		dev->info.cfg_read(dev->info.opaque, dev, reg, size);
	for (unsigned int i = 0; i < size; i++)
		v |= (uint64_t)dev->cfg[reg + i] << (8 * i);
	if (touches(reg, size, PCI_STATUS, 1)) {
		/* Interrupt Status follows the device, whatever INTx disable. */
		pthread_mutex_lock(&h->intx_lock);
		status = dev->intx_level ? PCI_STATUS_INTERRUPT : 0;
		pthread_mutex_unlock(&h->intx_lock);
		v |= (uint64_t)status << (8 * (PCI_STATUS - reg));
	}
	return v;
}

/* With cfg_lock held; the caller reports the BAR events after. */
static unsigned int cfg_write(struct pci_host *h, unsigned int bus,
			      unsigned int slot, unsigned int fn,
			      unsigned int reg, unsigned int size, uint64_t v,
			      struct bar_event ev[2 * PCI_NUM_BARS])
{
	struct pci_device *dev = cfg_device(h, bus, slot, fn);
	unsigned int n = 0;

	if (!dev || !cfg_access_ok(dev, reg, size))
		return 0;
	for (unsigned int i = 0; i < size; i++) {
		unsigned int r = reg + i;
		uint8_t b = (uint8_t)(v >> (8 * i));

		dev->cfg[r] = (uint8_t)((dev->cfg[r] & ~dev->wmask[r]) |
					(b & dev->wmask[r]));
		dev->cfg[r] &= (uint8_t) ~(b & dev->w1cmask[r]);
	}
	if (touches(reg, size, PCI_COMMAND, 2)) {
		bool dis = get16(dev->cfg + PCI_COMMAND) &
			   PCI_COMMAND_INTX_DISABLE;

		pthread_mutex_lock(&h->intx_lock);
		dev->intx_disabled = dis;
		intx_update(h, dev);
		pthread_mutex_unlock(&h->intx_lock);
	}
	if (touches(reg, size, PCI_COMMAND, 2) ||
	    touches(reg, size, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS))
		n = update_bars(h, dev, ev);
	if (dev->msix && touches(reg, size, dev->msix_cap + 2, 2)) {
		uint16_t ctl = get16(dev->cfg + dev->msix_cap + 2);

		msix_set_control(dev->msix, ctl & MSIX_CTRL_ENABLE,
				 ctl & MSIX_CTRL_MASKALL);
	}
	if (in_cap_area(reg, size) && dev->info.cfg_write)
		dev->info.cfg_write(dev->info.opaque, dev, reg, size);
	return n;
}

static void cfg_write_report(struct pci_host *h, unsigned int bus,
			     unsigned int slot, unsigned int fn,
			     unsigned int reg, unsigned int size, uint64_t v)
{
	struct bar_event ev[2 * PCI_NUM_BARS];
	unsigned int n = cfg_write(h, bus, slot, fn, reg, size, v, ev);

	/* Under cfg_lock, so moves reach devices in the order they happen. */
	report_bar_events(ev, n);
}

/* ---- Ports 0xCF8-0xCFF ---- */

static uint64_t cfg_port_read(void *opaque, uint64_t off, unsigned int size)
{
	struct pci_host *h = opaque;
	const struct bus_ops *cf9 = NULL;
	void *cf9_opaque = NULL;
	uint64_t v = ones(size);
	uint32_t a;

	pthread_mutex_lock(&h->cfg_lock);
	if (off < 4) {
		/* CONFIG_ADDRESS decodes dword accesses only. */
		if (off == 0 && size == 4) {
			v = h->config_address;
		} else if (off == PORT_RESET - PORT_PCI_CONFIG && size == 1) {
			cf9 = h->cf9_ops;
			cf9_opaque = h->cf9_opaque;
		}
	} else if (size <= 4) {
		a = h->config_address;
		if (a & CONFIG_ADDRESS_ENABLE)
			v = cfg_read(h, a >> 16 & 0xff, a >> 11 & 0x1f,
				     a >> 8 & 7,
				     (a & 0xfc) + (unsigned int)off - 4, size);
	}
	pthread_mutex_unlock(&h->cfg_lock);
	if (cf9 && cf9->read)
		v = cf9->read(cf9_opaque, 0, 1) & 0xff;
	return v;
}

static void cfg_port_write(void *opaque, uint64_t off, unsigned int size,
			   uint64_t v)
{
	struct pci_host *h = opaque;
	const struct bus_ops *cf9 = NULL;
	void *cf9_opaque = NULL;
	uint32_t a;

	pthread_mutex_lock(&h->cfg_lock);
	if (off < 4) {
		if (off == 0 && size == 4) {
			h->config_address = (uint32_t)v & CONFIG_ADDRESS_MASK;
		} else if (off == PORT_RESET - PORT_PCI_CONFIG && size == 1) {
			cf9 = h->cf9_ops;
			cf9_opaque = h->cf9_opaque;
		}
	} else if (size <= 4) {
		a = h->config_address;
		if (a & CONFIG_ADDRESS_ENABLE)
			cfg_write_report(h, a >> 16 & 0xff, a >> 11 & 0x1f,
					 a >> 8 & 7,
					 (a & 0xfc) + (unsigned int)off - 4,
					 size, v);
	}
	pthread_mutex_unlock(&h->cfg_lock);
	if (cf9 && cf9->write)
		cf9->write(cf9_opaque, 0, 1, v & 0xff);
}

static const struct bus_ops cfg_port_ops = {
	.read = cfg_port_read,
	.write = cfg_port_write,
};

void pci_host_set_cf9(struct pci_host *h, const struct bus_ops *ops,
		      void *opaque)
{
	pthread_mutex_lock(&h->cfg_lock);
	h->cf9_ops = ops;
	h->cf9_opaque = ops ? opaque : NULL;
	pthread_mutex_unlock(&h->cfg_lock);
}

/* ---- ECAM ---- */

/* offset: bus (27:20, always 0 here), device, function, register. */
static uint64_t ecam_read(void *opaque, uint64_t off, unsigned int size)
{
	struct pci_host *h = opaque;
	uint64_t v;

	pthread_mutex_lock(&h->cfg_lock);
	v = cfg_read(h, (unsigned int)(off >> 20), off >> 15 & 0x1f,
		     off >> 12 & 7, off & 0xfff, size);
	pthread_mutex_unlock(&h->cfg_lock);
	return v;
}

static void ecam_write(void *opaque, uint64_t off, unsigned int size,
		       uint64_t v)
{
	struct pci_host *h = opaque;

	pthread_mutex_lock(&h->cfg_lock);
	cfg_write_report(h, (unsigned int)(off >> 20), off >> 15 & 0x1f,
			 off >> 12 & 7, off & 0xfff, size, v);
	pthread_mutex_unlock(&h->cfg_lock);
}

static const struct bus_ops ecam_ops = {
	.read = ecam_read,
	.write = ecam_write,
};

/* ---- BAR windows ---- */

static bool bar_access(struct pci_device *dev, unsigned int bar, uint64_t off,
		       unsigned int size, uint64_t *value, bool write)
{
	const struct pci_bar_info *b;

	if (!write)
		*value = ones(size);
	if (bar >= PCI_NUM_BARS ||
	    (size != 1 && size != 2 && size != 4 && size != 8))
		return false;
	b = &dev->info.bars[bar];
	if (size > b->size || off > b->size - size)
		return false;
	if (dev->msix &&
	    msix_bar_access(dev->msix, bar, off, size, value, write))
		return true;
	if (write) {
		if (b->ops && b->ops->write)
			b->ops->write(b->opaque, off, size, *value);
	} else if (b->ops && b->ops->read) {
		*value = b->ops->read(b->opaque, off, size) & ones(size);
	}
	return true;
}

bool pci_bar_read(struct pci_device *dev, unsigned int bar, uint64_t off,
		  unsigned int size, uint64_t *value)
{
	return bar_access(dev, bar, off, size, value, false);
}

bool pci_bar_write(struct pci_device *dev, unsigned int bar, uint64_t off,
		   unsigned int size, uint64_t value)
{
	return bar_access(dev, bar, off, size, &value, true);
}

/* With map_lock held: the first mapped BAR holding the whole access. */
static const struct pci_map *find_map(const struct pci_host *h, bool io,
				      uint64_t addr, unsigned int size)
{
	for (unsigned int i = 0; i < h->nr_maps; i++) {
		const struct pci_map *m = &h->maps[i];

		if (m->io == io && addr >= m->base && size <= m->size &&
		    addr - m->base <= m->size - size)
			return m;
	}
	return NULL;
}

static uint64_t window_access(struct pci_host *h, bool io, uint64_t addr,
			      unsigned int size, uint64_t value, bool write)
{
	const struct pci_map *m;

	pthread_rwlock_rdlock(&h->map_lock);
	m = find_map(h, io, addr, size);
	if (m)
		bar_access(m->dev, m->bar, addr - m->base, size, &value, write);
	else if (!write)
		value = ones(size);
	pthread_rwlock_unlock(&h->map_lock);
	return value;
}

static uint64_t mmio_window_read(void *opaque, uint64_t off, unsigned int size)
{
	return window_access(opaque, false, LAYOUT_PCI_MMIO + off, size, 0,
			     false);
}

static void mmio_window_write(void *opaque, uint64_t off, unsigned int size,
			      uint64_t v)
{
	window_access(opaque, false, LAYOUT_PCI_MMIO + off, size, v, true);
}

static uint64_t io_window_read(void *opaque, uint64_t off, unsigned int size)
{
	return window_access(opaque, true, PORT_PCI_IO + off, size, 0, false);
}

static void io_window_write(void *opaque, uint64_t off, unsigned int size,
			    uint64_t v)
{
	window_access(opaque, true, PORT_PCI_IO + off, size, v, true);
}

static const struct bus_ops mmio_window_ops = {
	.read = mmio_window_read,
	.write = mmio_window_write,
};

static const struct bus_ops io_window_ops = {
	.read = io_window_read,
	.write = io_window_write,
};

/* ---- Devices ---- */

/* The type 0 header; BARs, capabilities and MSI-X come later. */
static void header_init(struct pci_device *dev)
{
	const struct pci_device_info *info = &dev->info;

	memset(dev->cfg, 0, sizeof(dev->cfg));
	memset(dev->wmask, 0, sizeof(dev->wmask));
	memset(dev->w1cmask, 0, sizeof(dev->w1cmask));
	put16(dev->cfg + PCI_VENDOR_ID, info->vendor_id);
	put16(dev->cfg + PCI_DEVICE_ID, info->device_id);
	dev->cfg[PCI_REVISION_ID] = info->revision;
	dev->cfg[PCI_CLASS_PROG] = (uint8_t)info->class_code;
	put16(dev->cfg + PCI_CLASS_PROG + 1, (uint16_t)(info->class_code >> 8));
	dev->cfg[PCI_HEADER_TYPE] = 0; /* type 0, single function */
	put16(dev->cfg + PCI_SUBSYSTEM_VENDOR_ID, info->subsys_vendor_id);
	put16(dev->cfg + PCI_SUBSYSTEM_ID, info->subsys_id);
	put16(dev->wmask + PCI_COMMAND, PCI_COMMAND_WMASK);
	put16(dev->w1cmask + PCI_STATUS, PCI_STATUS_W1C);
	dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->cap_end = PCI_CAP_START;
}

static bool bar_size_ok(const struct pci_bar_info *b)
{
	if (b->size & (b->size - 1))
		return false;
	if (b->io)
		return b->size >= PCI_BAR_IO_MIN && b->size <= PCI_BAR_IO_MAX &&
		       !b->prefetchable;
	return b->size >= PCI_BAR_MEM_MIN && b->size <= LAYOUT_PCI_MMIO_SIZE;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int pci_device_register(struct pci_host *h, struct pci_device *dev,
			const struct pci_device_info *info)
{
	uint64_t addr[PCI_NUM_BARS] = { 0 };
	uint64_t mmio, io;
	unsigned int slot, b;
	uint16_t cmd = 0;
	int rc = 0;

	if (dev->host)
		return -EBUSY;
	for (b = 0; b < PCI_NUM_BARS; b++)
		if (info->bars[b].size && !bar_size_ok(&info->bars[b]))
			return -EINVAL;

	pthread_mutex_lock(&h->cfg_lock);
	mmio = h->mmio_next;
	io = h->io_next;
	for (slot = 1; slot < PCI_MAX_SLOTS && h->slots[slot]; slot++)
		;
	if (slot == PCI_MAX_SLOTS) {
		rc = -ENOSPC;
		goto out;
	}
	/* Place every BAR first, so a full window changes nothing. */
	for (b = 0; b < PCI_NUM_BARS; b++) {
		const struct pci_bar_info *bi = &info->bars[b];
		uint64_t *next = bi->io ? &io : &mmio;
		uint64_t align = bi->io ? bi->size :
					  (bi->size > PCI_BAR_MEM_ALIGN ?
						   bi->size :
						   PCI_BAR_MEM_ALIGN);

		if (!bi->size)
			continue;
		addr[b] = align_up(*next, align);
		if (!in_window(bi->io, addr[b], bi->size)) {
			rc = -ENOSPC;
			goto out;
		}
		*next = addr[b] + bi->size;
	}
	h->mmio_next = mmio;
	h->io_next = io;

	memset(dev, 0, sizeof(*dev));
	dev->host = h;
	dev->info = *info;
	dev->slot = (uint8_t)slot;
	header_init(dev);
	for (b = 0; b < PCI_NUM_BARS; b++) {
		const struct pci_bar_info *bi = &info->bars[b];
		uint8_t *reg = dev->cfg + PCI_BASE_ADDRESS_0 + 4 * b;
		uint32_t mask = bi->io ? PCI_BAR_IO_MASK : PCI_BAR_MEM_MASK;

		if (!bi->size)
			continue;
		put32(reg, (uint32_t)addr[b] |
				   (bi->io ? PCI_BASE_ADDRESS_SPACE_IO : 0) |
				   (bi->prefetchable ?
					    PCI_BASE_ADDRESS_MEM_PREFETCH :
					    0));
		put32(dev->wmask + PCI_BASE_ADDRESS_0 + 4 * b,
		      mask & ~(uint32_t)(bi->size - 1));
		cmd |= bi->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
		dev->bar_addr[b] = addr[b];
		dev->bar_mapped[b] = true;
	}
	put16(dev->cfg + PCI_COMMAND, cmd);
	if (info->intx) {
		dev->intx_gsi = PCI_INTX_GSI_BASE + slot % PCI_INTX_GSI_COUNT;
		dev->cfg[PCI_INTERRUPT_PIN] = 1; /* INTA */
		dev->cfg[PCI_INTERRUPT_LINE] = (uint8_t)dev->intx_gsi;
	}
	h->slots[slot] = dev;
	rebuild_maps(h);
out:
	pthread_mutex_unlock(&h->cfg_lock);
	return rc;
}

void pci_device_unregister(struct pci_device *dev)
{
	struct pci_host *h = dev->host;

	if (!h)
		return;
	pthread_mutex_lock(&h->cfg_lock);
	h->slots[dev->slot] = NULL;
	for (unsigned int b = 0; b < PCI_NUM_BARS; b++)
		dev->bar_mapped[b] = false;
	rebuild_maps(h);
	pthread_mutex_lock(&h->intx_lock);
	dev->intx_level = false;
	intx_update(h, dev);
	pthread_mutex_unlock(&h->intx_lock);
	pthread_mutex_unlock(&h->cfg_lock);
	msix_destroy(dev->msix);
	dev->msix = NULL;
	dev->msix_cap = 0;
	dev->host = NULL;
}

/* With cfg_lock held: the offset of the last capability, or 0. */
static unsigned int last_capability(const struct pci_device *dev)
{
	unsigned int off = dev->cfg[PCI_CAPABILITY_LIST], last = 0;

	for (unsigned int i = 0; off && i < PCI_MAX_CAPS; i++) {
		last = off;
		off = dev->cfg[off + 1];
	}
	return last;
}

int pci_add_capability(struct pci_device *dev, uint8_t cap_id, const void *body,
		       unsigned int len)
{
	struct pci_host *h = dev->host;
	unsigned int off, last;
	int rc;

	if (!h)
		return -EINVAL;
	pthread_mutex_lock(&h->cfg_lock);
	off = (unsigned int)align_up(dev->cap_end, 4);
	if (off < PCI_CAP_START || len > 0x100 - 2 || off + 2 + len > 0x100) {
		rc = -ENOSPC;
		goto out;
	}
	dev->cfg[off] = cap_id;
	dev->cfg[off + 1] = 0;
	if (len)
		memcpy(dev->cfg + off + 2, body, len);
	last = last_capability(dev);
	if (last)
		dev->cfg[last + 1] = (uint8_t)off;
	else
		dev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	put16(dev->cfg + PCI_STATUS,
	      get16(dev->cfg + PCI_STATUS) | PCI_STATUS_CAP_LIST);
	dev->cap_end = (uint16_t)(off + 2 + len);
	rc = (int)off;
out:
	pthread_mutex_unlock(&h->cfg_lock);
	return rc;
}

void pci_set_wmask(struct pci_device *dev, unsigned int off, unsigned int len)
{
	struct pci_host *h = dev->host;

	if (!h)
		return;
	pthread_mutex_lock(&h->cfg_lock);
	/* Only capability bytes: the header's masks are the host's. */
	for (unsigned int i = 0; i < len; i++)
		if (off + i >= PCI_CAP_START && off + i < 0x100)
			dev->wmask[off + i] = 0xff;
	pthread_mutex_unlock(&h->cfg_lock);
}

/* ---- MSI-X capability ---- */

int pci_msix_init(struct pci_device *dev, unsigned int bar, uint32_t table_off,
		  uint32_t pba_off, unsigned int nr_vectors)
{
	struct pci_host *h = dev->host;
	const struct pci_bar_info *b;
	uint8_t body[10];
	struct msix *m;
	int off, rc;

	if (!h || dev->msix || bar >= PCI_NUM_BARS || nr_vectors < 1 ||
	    nr_vectors > PCI_MSIX_MAX_VECTORS)
		return -EINVAL;
	b = &dev->info.bars[bar];
	if (!b->size || b->io || (table_off | pba_off) & MSIX_BIR_MASK ||
	    (uint64_t)table_off + msix_table_len(nr_vectors) > b->size ||
	    (uint64_t)pba_off + msix_pba_len(nr_vectors) > b->size ||
	    (table_off < pba_off + msix_pba_len(nr_vectors) &&
	     pba_off < table_off + msix_table_len(nr_vectors)))
		return -EINVAL;
	rc = msix_create(&m, &h->dh, dev->info.name, nr_vectors, bar, table_off,
			 pba_off);
	if (rc)
		return rc;
	put16(body, (uint16_t)(nr_vectors - 1));
	put32(body + 2, table_off | bar);
	put32(body + 6, pba_off | bar);
	off = pci_add_capability(dev, PCI_CAP_ID_MSIX, body, sizeof(body));
	if (off < 0) {
		msix_destroy(m);
		return off;
	}
	pthread_mutex_lock(&h->cfg_lock);
	/* Enable and Function Mask are the only writable bits. */
	dev->wmask[off + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8;
	dev->msix_cap = (unsigned int)off;
	dev->msix = m;
	pthread_mutex_unlock(&h->cfg_lock);
	return 0;
}

bool pci_msix_enabled(const struct pci_device *dev)
{
	return dev->msix && msix_enabled(dev->msix);
}

void pci_msix_notify(struct pci_device *dev, unsigned int vector)
{
	if (dev->msix)
		msix_notify(dev->msix, vector);
}

int pci_msix_vector_fd(const struct pci_device *dev, unsigned int vector)
{
	return dev->msix ? msix_vector_fd(dev->msix, vector) : -1;
}

/* ---- The host ---- */

static void bridge_init(struct pci_host *h)
{
	struct pci_device *br = &h->bridge;

	br->host = h;
	br->slot = 0;
	br->info = (struct pci_device_info){
		.name = "pci-host",
		.vendor_id = PCI_HOST_VENDOR_ID,
		.device_id = PCI_HOST_DEVICE_ID,
		.class_code = PCI_CLASS_BRIDGE_HOST,
	};
	header_init(br);
	h->slots[0] = br;
}

/* What the host decodes: a port or MMIO range each. */
static const struct {
	bool mmio;
	uint64_t base, len;
	const struct bus_ops *ops;
	const char *name;
} host_ranges[] = {
	{ .mmio = false,
	  .base = PORT_PCI_CONFIG,
	  .len = PORT_PCI_CONFIG_LEN,
	  .ops = &cfg_port_ops,
	  .name = "pci-config" },
	{ .mmio = true,
	  .base = LAYOUT_PCI_ECAM,
	  .len = LAYOUT_PCI_ECAM_SIZE,
	  .ops = &ecam_ops,
	  .name = "pci-ecam" },
	{ .mmio = true,
	  .base = LAYOUT_PCI_MMIO,
	  .len = LAYOUT_PCI_MMIO_SIZE,
	  .ops = &mmio_window_ops,
	  .name = "pci-mmio" },
	{ .mmio = false,
	  .base = PORT_PCI_IO,
	  .len = PORT_PCI_IO_SIZE,
	  .ops = &io_window_ops,
	  .name = "pci-io" },
};

#define NR_HOST_RANGES (sizeof(host_ranges) / sizeof(host_ranges[0]))

static struct bus *range_bus(const struct pci_host *h, unsigned int i)
{
	return host_ranges[i].mmio ? h->dh.mmio : h->dh.pio;
}

int pci_host_init(struct pci_host **out, const struct device_host *host)
{
	struct pci_host *h;
	int rc;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->dh = *host;
	h->dh.pci = h;
	rc = -pthread_mutex_init(&h->cfg_lock, NULL);
	if (rc)
		goto out_free;
	rc = -pthread_mutex_init(&h->intx_lock, NULL);
	if (rc)
		goto out_cfg_lock;
	rc = -pthread_rwlock_init(&h->map_lock, NULL);
	if (rc)
		goto out_intx_lock;
	h->mmio_next = LAYOUT_PCI_MMIO;
	h->io_next = PORT_PCI_IO;
	bridge_init(h);

	for (; h->nr_ranges < NR_HOST_RANGES; h->nr_ranges++) {
		unsigned int i = h->nr_ranges;

		rc = bus_register(range_bus(h, i), host_ranges[i].base,
				  host_ranges[i].len, host_ranges[i].ops, h,
				  host_ranges[i].name);
		if (rc) {
			pci_host_destroy(h);
			return rc;
		}
	}
	*out = h;
	return 0;
out_intx_lock:
	pthread_mutex_destroy(&h->intx_lock);
out_cfg_lock:
	pthread_mutex_destroy(&h->cfg_lock);
out_free:
	free(h);
	return rc;
}

void pci_host_destroy(struct pci_host *h)
{
	if (!h)
		return;
	while (h->nr_ranges--)
		bus_unregister(range_bus(h, h->nr_ranges),
			       host_ranges[h->nr_ranges].base);
	/* Devices still plugged in (a failed VM build) lose their host. */
	for (unsigned int s = 1; s < PCI_MAX_SLOTS; s++)
		if (h->slots[s])
			pci_device_unregister(h->slots[s]);
	pthread_rwlock_destroy(&h->map_lock);
	pthread_mutex_destroy(&h->intx_lock);
	pthread_mutex_destroy(&h->cfg_lock);
	free(h);
}
