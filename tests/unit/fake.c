// SPDX-License-Identifier: MIT
/* The fake machine for device tests; see fake.h. */
#include "unit/fake.h"

#include "arch/x86_64/layout.h"

#include <stdlib.h>
#include <string.h>

#include "unit/test.h"

static void fake_irq_set_level(void *opaque, unsigned int gsi, bool level)
{
	struct fake_irq *irq = opaque;

	if (gsi >= FAKE_NR_GSI)
		return;
	pthread_mutex_lock(&irq->lock);
	if (level && !irq->level[gsi])
		irq->rises[gsi]++;
	irq->level[gsi] = level;
	pthread_mutex_unlock(&irq->lock);
}

static void fake_ctl_request(void *opaque, enum vm_request req, int code)
{
	struct fake_ctl *ctl = opaque;

	pthread_mutex_lock(&ctl->lock);
	if (ctl->nr < FAKE_NR_REQ)
		ctl->req[ctl->nr] = req;
	ctl->nr++;
	ctl->last_req = req;
	ctl->last_code = code;
	pthread_mutex_unlock(&ctl->lock);
}

static size_t fake_chardev_write(struct chardev *chr, const uint8_t *buf,
				 size_t len)
{
	struct fake_chardev *c = (struct fake_chardev *)chr;
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = len < c->space ? len : c->space;
	if (n > sizeof(c->out) - c->out_len)
		n = sizeof(c->out) - c->out_len;
	memcpy(c->out + c->out_len, buf, n);
	c->out_len += n;
	c->space -= n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

static void fake_chardev_rx_ready(struct chardev *chr)
{
	struct fake_chardev *c = (struct fake_chardev *)chr;

	pthread_mutex_lock(&c->lock);
	c->rx_ready_calls++;
	pthread_mutex_unlock(&c->lock);
}

static const struct chardev_ops fake_chardev_ops = {
	.write = fake_chardev_write,
	.rx_ready = fake_chardev_rx_ready,
};

void fake_vm_init(struct fake_vm *f)
{
	memset(f, 0, sizeof(*f));
	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	pthread_mutex_init(&f->irq.lock, NULL);
	pthread_mutex_init(&f->ctl.lock, NULL);
	pthread_mutex_init(&f->console.lock, NULL);
	f->console.chr.ops = &fake_chardev_ops;
	f->console.space = 1 << 20;
	f->cfg.memory = FAKE_MEMORY;
	f->cfg.cmdline = "";
	f->host = (struct device_host){
		.pio = &f->pio,
		.mmio = &f->mmio,
		.cfg = &f->cfg,
		.ctl = { .request = fake_ctl_request, .opaque = &f->ctl },
		.irq_set_level = fake_irq_set_level,
		.irq_opaque = &f->irq,
		.console = &f->console.chr,
	};
}

void fake_vm_fini(struct fake_vm *f)
{
	if (f->type)
		f->type->unrealize(f->state);
	free(f->state);
	f->type = NULL;
	f->state = NULL;
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	pthread_mutex_destroy(&f->console.lock);
	pthread_mutex_destroy(&f->ctl.lock);
	pthread_mutex_destroy(&f->irq.lock);
}

struct fake_vm *fake_vm_new(const struct device_type *type)
{
	struct fake_vm *f = malloc(sizeof(*f));

	if (!f)
		abort(); /* a test machine without memory: nothing to test */
	fake_vm_init(f);
	if (type)
		fake_vm_realize(f, type);
	return f;
}

void fake_vm_free(struct fake_vm *f)
{
	fake_vm_fini(f);
	free(f);
}

void fake_vm_realize(struct fake_vm *f, const struct device_type *type)
{
	f->type = type;
	f->state = calloc(1, type->state_size);
	if (!f->state)
		abort();
	if (type->realize(f->state, &f->host))
		test_fail(__FILE__, __LINE__, "%s realize failed", type->name);
}

bool fake_irq_level(struct fake_vm *f, unsigned int gsi)
{
	bool l;

	pthread_mutex_lock(&f->irq.lock);
	l = f->irq.level[gsi];
	pthread_mutex_unlock(&f->irq.lock);
	return l;
}

unsigned int fake_irq_rises(struct fake_vm *f, unsigned int gsi)
{
	unsigned int n;

	pthread_mutex_lock(&f->irq.lock);
	n = f->irq.rises[gsi];
	pthread_mutex_unlock(&f->irq.lock);
	return n;
}

uint64_t fake_in(struct fake_vm *f, uint16_t port, unsigned int size)
{
	uint64_t v = 0;

	if (!bus_read(&f->pio, port, size, &v))
		test_fail(__FILE__, __LINE__, "no device at port 0x%x", port);
	return v;
}

void fake_out(struct fake_vm *f, uint16_t port, unsigned int size, uint64_t v)
{
	if (!bus_write(&f->pio, port, size, v))
		test_fail(__FILE__, __LINE__, "no device at port 0x%x", port);
}

uint8_t fake_in8(struct fake_vm *f, uint16_t port)
{
	return (uint8_t)fake_in(f, port, 1);
}

void fake_out8(struct fake_vm *f, uint16_t port, uint8_t v)
{
	fake_out(f, port, 1, v);
}

void fake_console_space(struct fake_vm *f, size_t space)
{
	pthread_mutex_lock(&f->console.lock);
	f->console.space = space;
	pthread_mutex_unlock(&f->console.lock);
}

size_t fake_console_out_len(struct fake_vm *f)
{
	size_t n;

	pthread_mutex_lock(&f->console.lock);
	n = f->console.out_len;
	pthread_mutex_unlock(&f->console.lock);
	return n;
}

size_t fake_console_rx(struct fake_vm *f, const char *s)
{
	struct chardev *chr = &f->console.chr;

	return chr->fe->receive(chr->fe_opaque, (const uint8_t *)s, strlen(s));
}

void fake_console_tx_ready(struct fake_vm *f)
{
	struct chardev *chr = &f->console.chr;

	chr->fe->tx_ready(chr->fe_opaque);
}

uint16_t fake_rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

uint32_t fake_rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

uint64_t fake_rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

void fake_boot_init(struct fake_boot *b, const char *cmdline)
{
	struct gm_range ram[2];
	unsigned int nr;

	memset(b, 0, sizeof(*b));
	nr = e820_ram_ranges(FAKE_BOOT_MEM, ram);
	CHECK_EQ(gm_alloc(&b->gm, ram, nr), 0);
	b->nr_e820 = e820_build(ram, nr, b->e820);
	CHECK_EQ(b->nr_e820, 4); /* low RAM, BIOS area, RAM, ECAM */
	b->img = (struct boot_image){
		.initrd_fd = -1,
		.cmdline = cmdline,
		.e820 = b->e820,
		.nr_e820 = (unsigned int)b->nr_e820,
		.low_ram_end = ram[0].size,
		.rsdp = LAYOUT_ACPI,
	};
	memset(&b->entry, 0x5a, sizeof(b->entry));
}

static uint64_t rng_state;

void fake_rng_seed(uint64_t seed)
{
	rng_state = seed;
}

/* A 64-bit LCG (Knuth's MMIX constants); the high bits are the good ones. */
uint32_t fake_rng(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}
