// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the virtio modern PCI transport (virtio/virtio_pci.c):
 * a hostile driver's register accesses (BAR 0 at any offset and width, PCI
 * configuration space through CF8/CFC, the PCI_CFG window), ring contents
 * and notifications, against an "echo" device on its I/O thread.
 *
 * The machine: a PCI host (src/pci) on fresh buses, RAM A (64 KiB at
 * 1 MiB) for rings and buffers, RAM B (64 KiB right below the PCI window,
 * so a buffer can run from RAM into the device's registers). Everything
 * in the input is guest-controlled; it is a sequence of operations, each an
 * opcode byte (mod 10) and its arguments (little-endian; short input reads
 * as zeroes):
 *
 *   0 BAR write   le16 offset, u8 width (1 << (w % 4)), le64 value
 *   1 BAR read    le16 offset, u8 width
 *   2 cfg write   u8 offset, u8 width (1, 2, 4), le32 value (CF8/CFC)
 *   3 cfg read    u8 offset, u8 width
 *   4 poke RAM A  le16 offset, u8 length (mod 17), the bytes
 *   5 bring-up    u8 features (bit 0 EVENT_IDX, 1 INDIRECT), u8 queue
 *                 size (1 << (s % 6)): a well-behaved driver's sequence
 *                 with both queues in RAM A (queue q's rings at
 *                 A + q * 0x1000, descriptor table first)
 *   6 post        u8 queue, u8 head: avail->ring[idx % size] = head, idx++
 *   7 kick        u8 queue (any notify offset: q * 4, q from 0..255)
 *   8 sync        waits until the I/O thread has handled what came before
 *   9 config      virtio_config_changed()
 *
 * At the end the device is destroyed (its thread stopped, reset() called).
 * Checks beyond the sanitizers: the device sees queue_notify() only on its
 * I/O thread, only between activate() and reset(), and every element it
 * pops lies in RAM.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "devices/device.h"
#include "pci/pci.h"
#include "util/log.h"
#include "virtio/virtio.h"
#include "virtio/virtio_pci.h"
#include "vm/guest_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define A_BASE 0x100000ull
#define B_BASE (LAYOUT_PCI_MMIO - 0x10000ull)
#define REGION 0x10000ull
#define QUEUES 2
#define QMAX 32
#define ECHO_ID 42

#define BUG() __builtin_trap()

struct echo {
	struct virtio_device *vdev;
	bool active;
	pthread_t tid;
	bool tid_set;
	uint8_t cfg[8];
};

static struct guest_mem *fuzz_gm; /* the running input's RAM */

static bool in_ram(const struct iovec *iov)
{
	uint64_t a = (uint64_t)(uintptr_t)iov->iov_base;
	static const gpa_t base[2] = { A_BASE, B_BASE };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		const uint8_t *h = gm_ptr(fuzz_gm, base[i], REGION);

		if (h && a >= (uint64_t)(uintptr_t)h &&
		    a + iov->iov_len <= (uint64_t)(uintptr_t)h + REGION)
			return true;
	}
	return false;
}

static void on_thread(struct echo *e)
{
	if (!e->tid_set) {
		e->tid = pthread_self();
		e->tid_set = true;
	} else if (!pthread_equal(e->tid, pthread_self())) {
		BUG();
	}
}

static void echo_config_read(void *opaque, uint32_t off, void *buf,
			     uint32_t len)
{
	struct echo *e = opaque;

	if (off + len > sizeof(e->cfg))
		BUG(); /* the transport checks the range */
	memcpy(buf, e->cfg + off, len);
}

static int echo_activate(void *opaque, uint64_t features)
{
	struct echo *e = opaque;

	(void)features;
	on_thread(e);
	e->active = true;
	return 0;
}

static void echo_notify(void *opaque, unsigned int q)
{
	struct echo *e = opaque;
	struct virtq *vq = virtio_queue(e->vdev, q);
	struct virtq_elem *el;
	uint8_t buf[256];
	int rc;

	on_thread(e);
	if (!e->active || q >= QUEUES || !virtio_queue_enabled(e->vdev, q))
		BUG();
	while ((rc = virtq_pop(vq, &el)) == 1) {
		uint64_t n = el->out_len < el->in_len ? el->out_len :
							el->in_len;
		unsigned int i;

		for (i = 0; i < el->nr_out + el->nr_in; i++)
			if (!in_ram(&el->iov[i]))
				BUG();
		if (n > sizeof(buf))
			n = sizeof(buf);
		virtq_copy_from(el, 0, buf, n);
		virtq_copy_to(el, 0, buf, n);
		virtq_push(vq, el, (uint32_t)n);
	}
	if (rc < 0)
		virtio_set_needs_reset(e->vdev, "broken ring");
	virtio_notify(e->vdev, q);
}

static void echo_reset(void *opaque)
{
	struct echo *e = opaque;

	on_thread(e);
	e->active = false;
}

static const struct virtio_device_ops echo_ops = {
	.name = "virtio-echo",
	.device_id = ECHO_ID,
	.pci_class = 0xff0000,
	.nr_queues = QUEUES,
	.queue_max_size = QMAX,
	.features = 1ull << VIRTIO_F_INDIRECT_DESC | 1ull << VIRTIO_F_EVENT_IDX,
	.config_size = 8,
	.config_read = echo_config_read,
	.activate = echo_activate,
	.queue_notify = echo_notify,
	.reset = echo_reset,
};

/* The input, read as a stream; past its end, zeroes. */
struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct input *in, unsigned int n)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t b = 0;

		if (in->left) {
			b = *in->p++;
			in->left--;
		}
		v |= b << (8 * i);
	}
	return v;
}

struct machine {
	struct bus pio, mmio;
	struct guest_mem gm;
	struct device_host host;
	struct pci_host *pci;
	struct echo echo;
	uint64_t bar;
	unsigned int slot;
	uint16_t qsize;
	uint16_t avail_idx[QUEUES];
};

static void cfg_addr(struct machine *m, unsigned int off)
{
	bus_write(&m->pio, PORT_PCI_CONFIG, 4,
		  0x80000000u | m->slot << 11 | (off & 0xfc));
}

static uint64_t cfg_read(struct machine *m, unsigned int off, unsigned int w)
{
	uint64_t v = 0;

	cfg_addr(m, off);
	bus_read(&m->pio, PORT_PCI_CONFIG + 4 + (off & 3), w, &v);
	return v;
}

static void cfg_write(struct machine *m, unsigned int off, unsigned int w,
		      uint64_t v)
{
	cfg_addr(m, off);
	bus_write(&m->pio, PORT_PCI_CONFIG + 4 + (off & 3), w, v);
}

static void common_w(struct machine *m, unsigned int off, unsigned int w,
		     uint64_t v)
{
	bus_write(&m->mmio, m->bar + VIRTIO_PCI_COMMON_OFF + off, w, v);
}

static uint64_t common_r(struct machine *m, unsigned int off, unsigned int w)
{
	uint64_t v = 0;

	bus_read(&m->mmio, m->bar + VIRTIO_PCI_COMMON_OFF + off, w, &v);
	return v;
}

static void bring_up(struct machine *m, uint8_t feat, uint8_t sz)
{
	uint64_t features = 1ull << VIRTIO_F_VERSION_1;
	unsigned int q;

	if (feat & 1)
		features |= 1ull << VIRTIO_F_EVENT_IDX;
	if (feat & 2)
		features |= 1ull << VIRTIO_F_INDIRECT_DESC;
	m->qsize = (uint16_t)(1u << (sz % 6));
	common_w(m, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	common_w(m, VIRTIO_PCI_COMMON_STATUS, 1, 3);
	common_w(m, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	common_w(m, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
	common_w(m, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	common_w(m, VIRTIO_PCI_COMMON_GF, 4, features >> 32);
	common_w(m, VIRTIO_PCI_COMMON_STATUS, 1, 0xb);
	for (q = 0; q < QUEUES; q++) {
		gpa_t base = A_BASE + q * 0x1000ull;

		m->avail_idx[q] = 0;
		common_w(m, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		common_w(m, VIRTIO_PCI_COMMON_Q_SIZE, 2, m->qsize);
		common_w(m, VIRTIO_PCI_COMMON_Q_DESCLO, 8, base);
		common_w(m, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, base + 0x400);
		common_w(m, VIRTIO_PCI_COMMON_Q_USEDLO, 8, base + 0x800);
		common_w(m, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	}
	common_w(m, VIRTIO_PCI_COMMON_STATUS, 1, 0xf);
}

static void post(struct machine *m, uint8_t q, uint8_t head)
{
	gpa_t avail;
	uint8_t *p;

	q %= QUEUES;
	if (!m->qsize)
		return;
	avail = A_BASE + q * 0x1000ull + 0x400;
	p = gm_ptr(&m->gm, avail, 4 + 2ull * m->qsize);
	if (!p)
		return;
	p[4 + 2 * (m->avail_idx[q] % m->qsize)] = head;
	p[5 + 2 * (m->avail_idx[q] % m->qsize)] = 0;
	m->avail_idx[q]++;
	__atomic_store_n((uint16_t *)(p + 2), m->avail_idx[q],
			 __ATOMIC_RELEASE);
}

struct sync {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void sync_fn(void *opaque)
{
	struct sync *s = opaque;

	pthread_mutex_lock(&s->lock);
	s->done = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Twice: a notification already in the thread's epoll batch goes first. */
static void sync_io(struct machine *m)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct sync s = { .lock = PTHREAD_MUTEX_INITIALIZER,
				  .cond = PTHREAD_COND_INITIALIZER };

		if (virtio_defer(m->echo.vdev, sync_fn, &s))
			return;
		pthread_mutex_lock(&s.lock);
		while (!s.done)
			pthread_cond_wait(&s.cond, &s.lock);
		pthread_mutex_unlock(&s.lock);
	}
}

static int machine_init(struct machine *m)
{
	static const struct gm_range ram[] = {
		{ .gpa = A_BASE, .size = REGION },
		{ .gpa = B_BASE, .size = REGION },
	};
	char err[128];
	unsigned int slot;

	memset(m, 0, sizeof(*m));
	bus_init(&m->pio, "pio");
	bus_init(&m->mmio, "mmio");
	if (gm_alloc(&m->gm, ram, 2))
		return -ENOMEM;
	fuzz_gm = &m->gm;
	m->host = (struct device_host){
		.pio = &m->pio,
		.mmio = &m->mmio,
		.mem = &m->gm,
	};
	if (pci_host_init(&m->pci, &m->host))
		return -ENOMEM;
	m->host.pci = m->pci;
	m->echo.vdev = virtio_pci_create(&m->host, "echo0", &echo_ops, &m->echo,
					 err, sizeof(err));
	if (!m->echo.vdev)
		return -ENOMEM;
	for (slot = 0; slot < PCI_MAX_SLOTS; slot++) {
		m->slot = slot;
		if (cfg_read(m, PCI_DEVICE_ID, 2) ==
		    VIRTIO_PCI_DEVICE_BASE + ECHO_ID)
			break;
	}
	if (slot == PCI_MAX_SLOTS)
		BUG();
	m->bar = cfg_read(m, PCI_BASE_ADDRESS_0, 4) & ~0xfull;
	return 0;
}

static void machine_fini(struct machine *m)
{
	virtio_pci_destroy(m->echo.vdev);
	if (m->pci)
		pci_host_destroy(m->pci);
	bus_destroy(&m->pio);
	bus_destroy(&m->mmio);
	gm_free(&m->gm);
	fuzz_gm = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_threshold = LOG_ERROR; /* guest warnings are expected here */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { .p = data, .left = size };
	struct machine *m = calloc(1, sizeof(*m));
	unsigned int ops = 0;

	if (!m)
		return 0;
	if (machine_init(m))
		BUG();
	while (in.left && ops++ < 256) {
		uint8_t op = (uint8_t)take(&in, 1) % 10;
		uint64_t off, w, v;

		switch (op) {
		case 0:
			off = take(&in, 2) % VIRTIO_PCI_BAR_SIZE;
			w = 1u << (take(&in, 1) % 4);
			v = take(&in, 8);
			bus_write(&m->mmio, m->bar + off, (unsigned int)w, v);
			break;
		case 1:
			off = take(&in, 2) % VIRTIO_PCI_BAR_SIZE;
			w = 1u << (take(&in, 1) % 4);
			bus_read(&m->mmio, m->bar + off, (unsigned int)w, &v);
			break;
		case 2:
			off = take(&in, 1);
			w = 1u << (take(&in, 1) % 3);
			v = take(&in, 4);
			cfg_write(m, (unsigned int)off, (unsigned int)w, v);
			break;
		case 3:
			off = take(&in, 1);
			w = 1u << (take(&in, 1) % 3);
			cfg_read(m, (unsigned int)off, (unsigned int)w);
			break;
		case 4: {
			uint8_t bytes[16];
			unsigned int n, i;
			uint8_t *p;

			off = take(&in, 2) % REGION;
			n = (unsigned int)take(&in, 1) % 17;
			for (i = 0; i < n; i++)
				bytes[i] = (uint8_t)take(&in, 1);
			if (off + n > REGION)
				n = (unsigned int)(REGION - off);
			p = gm_ptr(&m->gm, A_BASE + off, n);
			if (p && n)
				memcpy(p, bytes, n);
			break;
		}
		case 5:
			v = take(&in, 1);
			bring_up(m, (uint8_t)v, (uint8_t)take(&in, 1));
			sync_io(m);
			break;
		case 6:
			v = take(&in, 1);
			post(m, (uint8_t)v, (uint8_t)take(&in, 1));
			break;
		case 7:
			v = take(&in, 1);
			bus_write(&m->mmio,
				  m->bar + VIRTIO_PCI_NOTIFY_OFF +
					  v * VIRTIO_PCI_NOTIFY_MULT,
				  2, v);
			sync_io(m);
			break;
		case 8:
			sync_io(m);
			break;
		case 9:
			virtio_config_changed(m->echo.vdev);
			break;
		}
	}
	/*
	 * A driver that cleans up: BAR 0 back in place and decoding, reset;
	 * then the status must read 0 and the device be stopped.
	 */
	cfg_write(m, PCI_BASE_ADDRESS_0, 4, m->bar);
	cfg_write(m, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	common_w(m, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	if (common_r(m, VIRTIO_PCI_COMMON_STATUS, 1) != 0 || m->echo.active)
		BUG();
	machine_fini(m);
	free(m);
	return 0;
}
