// SPDX-License-Identifier: MIT
/*
 * virtio-console: the device's queue handling against a driver played by
 * tests/unit/vring.c and the fake console backend of tests/unit/fake.h,
 * all on the test's thread (the device without its transport:
 * virtio_console_new/start/kick/poll); the device behind the PCI
 * transport with its I/O thread (tests/unit/virtio_harness.h); and the
 * UART giving the terminal up with --console virtio.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/x86_64/layout.h"
#include "config/config.h"
#include "devices/uart16550.h"
#include "unit/fake.h"
#include "unit/test.h"
#include "unit/vring.h"
#include "unit/virtio_harness.h"
#include "virtio/console.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtqueue.h"

struct rig {
	struct fake_vm *f; /* for its console backend */
	struct guest_mem gm;
	struct vring rx, tx; /* the driver's side */
	struct virtq rxq, txq; /* the device's side */
	struct virtio_console *c;
};

static void queue_up(struct rig *r, struct vring *vr, struct virtq *vq,
		     unsigned int n)
{
	CHECK_EQ(vring_init(vr, &r->gm, VRING_RING_GPA + n * VRING_RING_STRIDE,
			    16, VRING_DATA_GPA + n * VRING_DATA_SIZE,
			    VRING_DATA_SIZE),
		 0);
	memset(vq, 0, sizeof(*vq));
	vring_to_virtq(vr, vq);
	vq->indirect = true;
	CHECK_EQ(virtq_init(vq), 0);
}

/* A device on the fake console (or none), activated with both queues. */
static void rig_up(struct rig *r, bool console)
{
	memset(r, 0, sizeof(*r));
	r->f = fake_vm_new(NULL);
	CHECK_EQ(vring_mem_alloc(&r->gm), 0);
	queue_up(r, &r->rx, &r->rxq, 0);
	queue_up(r, &r->tx, &r->txq, 1);
	r->c = virtio_console_new(console ? &r->f->console.chr : NULL);
	CHECK(r->c != NULL);
	if (console)
		CHECK(r->f->console.chr.fe != NULL);
	CHECK_EQ(virtio_console_start(r->c, &r->rxq, &r->txq), 0);
}

static void rig_down(struct rig *r)
{
	virtio_console_free(r->c);
	CHECK(r->f->console.chr.fe == NULL); /* detached */
	gm_free(&r->gm);
	fake_vm_free(r->f);
}

static uint8_t *host(struct rig *r, gpa_t gpa, uint64_t len)
{
	uint8_t *p = gm_ptr(&r->gm, gpa, len);

	CHECK(p != NULL);
	return p;
}

static int post_out(struct rig *r, const char *s)
{
	int head = vring_post_buf(&r->tx, s, (uint32_t)strlen(s), 0, NULL);

	CHECK(head >= 0);
	return head;
}

static int post_in(struct rig *r, uint32_t len, gpa_t *gpa)
{
	int head = vring_post_buf(&r->rx, NULL, 0, len, gpa);

	CHECK(head >= 0);
	return head;
}

static bool out_is(struct rig *r, const char *s)
{
	size_t n = strlen(s);

	return fake_console_out_len(r->f) == n &&
	       !memcmp(r->f->console.out, s, n);
}

static void output_in_order(void)
{
	struct vring_seg segs[3];
	uint32_t id, len;
	struct rig r;
	int h1, h2, h3;

	rig_up(&r, true);
	h1 = post_out(&r, "Linux version ");
	/* A chain of three segments, one of them empty. */
	segs[0] = (struct vring_seg){ .addr = vring_alloc(&r.tx, 4), .len = 4 };
	segs[1] = (struct vring_seg){ .addr = vring_alloc(&r.tx, 1), .len = 0 };
	segs[2] = (struct vring_seg){ .addr = vring_alloc(&r.tx, 3), .len = 3 };
	memcpy(host(&r, segs[0].addr, 4), "6.1.", 4);
	memcpy(host(&r, segs[2].addr, 3), "0\r\n", 3);
	h2 = vring_post(&r.tx, segs, 3);
	CHECK(h2 >= 0);
	virtio_console_kick(r.c, VIRTIO_CONSOLE_TXQ);
	/* Through an indirect table, kicked later. */
	h3 = vring_post_indirect(&r.tx, segs, 3);
	CHECK(h3 >= 0);
	virtio_console_kick(r.c, VIRTIO_CONSOLE_TXQ);
	CHECK(out_is(&r, "Linux version 6.1.0\r\n6.1.0\r\n"));
	CHECK(vring_get_used(&r.tx, &id, &len));
	CHECK_EQ(id, h1);
	CHECK_EQ(len, 0);
	CHECK(vring_get_used(&r.tx, &id, &len));
	CHECK_EQ(id, h2);
	CHECK(vring_get_used(&r.tx, &id, &len));
	CHECK_EQ(id, h3);
	CHECK(!vring_get_used(&r.tx, &id, &len));
	CHECK(!virtio_console_broken(r.c));
	rig_down(&r);
}

static void short_write_resumes(void)
{
	uint32_t id, len;
	struct rig r;
	int h1, h2;

	rig_up(&r, true);
	fake_console_space(r.f, 3);
	h1 = post_out(&r, "abcdef");
	h2 = post_out(&r, "gh");
	virtio_console_kick(r.c, VIRTIO_CONSOLE_TXQ);
	CHECK(out_is(&r, "abc"));
	CHECK(!vring_get_used(&r.tx, &id, &len)); /* held, not dropped */
	/* A kick while the backend is full changes nothing. */
	virtio_console_kick(r.c, VIRTIO_CONSOLE_TXQ);
	CHECK(out_is(&r, "abc"));
	/* Room for two more: still the first chain, in order. */
	fake_console_space(r.f, 2);
	fake_console_tx_ready(r.f);
	virtio_console_poll(r.c);
	CHECK(out_is(&r, "abcde"));
	CHECK(!vring_get_used(&r.tx, &id, &len));
	fake_console_space(r.f, 100);
	fake_console_tx_ready(r.f);
	virtio_console_poll(r.c);
	CHECK(out_is(&r, "abcdefgh"));
	CHECK(vring_get_used(&r.tx, &id, &len));
	CHECK_EQ(id, h1);
	CHECK(vring_get_used(&r.tx, &id, &len));
	CHECK_EQ(id, h2);
	rig_down(&r);
}

static void input_reaches_guest(void)
{
	uint32_t id, len;
	struct rig r;
	gpa_t buf;
	int head;

	rig_up(&r, true);
	head = post_in(&r, 64, &buf);
	virtio_console_kick(r.c, VIRTIO_CONSOLE_RXQ); /* nothing to send */
	CHECK(!vring_get_used(&r.rx, &id, &len));
	CHECK_EQ(fake_console_rx(r.f, "ls -l\r"), 6);
	virtio_console_poll(r.c);
	CHECK(vring_get_used(&r.rx, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 6);
	CHECK(!memcmp(host(&r, buf, 6), "ls -l\r", 6));
	CHECK_EQ(virtio_console_staged(r.c), 0);
	CHECK_EQ(r.f->console.rx_ready_calls, 0); /* nothing refused */
	rig_down(&r);
}

/* Input split over buffers smaller than it, each completed with its part. */
static void input_spans_buffers(void)
{
	uint32_t id, len;
	struct rig r;
	gpa_t b1, b2, b3;

	rig_up(&r, true);
	post_in(&r, 4, &b1);
	post_in(&r, 4, &b2);
	post_in(&r, 4, &b3);
	CHECK_EQ(fake_console_rx(r.f, "0123456789"), 10);
	virtio_console_poll(r.c);
	CHECK(vring_get_used(&r.rx, &id, &len));
	CHECK_EQ(len, 4);
	CHECK(vring_get_used(&r.rx, &id, &len));
	CHECK_EQ(len, 4);
	CHECK(vring_get_used(&r.rx, &id, &len));
	CHECK_EQ(len, 2);
	CHECK(!memcmp(host(&r, b1, 4), "0123", 4));
	CHECK(!memcmp(host(&r, b2, 4), "4567", 4));
	CHECK(!memcmp(host(&r, b3, 2), "89", 2));
	rig_down(&r);
}

static void input_backpressure(void)
{
	static char big[VIRTIO_CONSOLE_RX_BUF + 101];
	uint32_t id, len, total = 0;
	struct rig r;
	gpa_t buf[3];
	unsigned int i;

	rig_up(&r, true);
	for (i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + i % 26);
	big[sizeof(big) - 1] = 0;
	/* No buffers: the staging ring fills, then nothing more is taken. */
	CHECK_EQ(fake_console_rx(r.f, big), VIRTIO_CONSOLE_RX_BUF);
	CHECK_EQ(fake_console_rx(r.f, big + VIRTIO_CONSOLE_RX_BUF), 0);
	virtio_console_poll(r.c);
	CHECK_EQ(r.f->console.rx_ready_calls, 0);
	CHECK(!vring_get_used(&r.rx, &id, &len));
	/* The driver posts buffers and kicks: delivery, then rx_ready. */
	for (i = 0; i < 3; i++)
		post_in(&r, 2048, &buf[i]);
	virtio_console_kick(r.c, VIRTIO_CONSOLE_RXQ);
	while (vring_get_used(&r.rx, &id, &len))
		total += len;
	CHECK_EQ(total, VIRTIO_CONSOLE_RX_BUF);
	CHECK_EQ(r.f->console.rx_ready_calls, 1);
	CHECK(!memcmp(host(&r, buf[0], 2048), big, 2048));
	CHECK(!memcmp(host(&r, buf[1], 2048), big + 2048, 2048));
	/* The backend offers the rest; it lands in the third buffer. */
	CHECK_EQ(fake_console_rx(r.f, big + VIRTIO_CONSOLE_RX_BUF), 100);
	virtio_console_poll(r.c);
	CHECK(vring_get_used(&r.rx, &id, &len));
	CHECK_EQ(len, 100);
	CHECK(!memcmp(host(&r, buf[2], 100), big + VIRTIO_CONSOLE_RX_BUF, 100));
	rig_down(&r);
}

static void reset_with_chain_in_flight(void)
{
	uint32_t id, len;
	struct rig r;
	int head;

	rig_up(&r, true);
	fake_console_space(r.f, 2);
	post_out(&r, "lost in reset");
	virtio_console_kick(r.c, VIRTIO_CONSOLE_TXQ);
	CHECK(out_is(&r, "lo"));
	CHECK_EQ(fake_console_rx(r.f, "typed"), 5); /* staged, no buffer */
	virtio_console_stop(r.c);
	/* Still attached; wake-ups after the reset touch nothing. */
	CHECK(r.f->console.chr.fe != NULL);
	fake_console_space(r.f, 100);
	fake_console_tx_ready(r.f);
	virtio_console_poll(r.c);
	virtio_console_kick(r.c, VIRTIO_CONSOLE_TXQ);
	CHECK(out_is(&r, "lo"));
	CHECK(!vring_get_used(&r.tx, &id, &len));
	/* The driver sets the queues up again: new output flows, and the
	 * input typed meanwhile arrives. */
	queue_up(&r, &r.rx, &r.rxq, 0);
	queue_up(&r, &r.tx, &r.txq, 1);
	post_out(&r, "!");
	head = post_in(&r, 16, NULL);
	CHECK_EQ(virtio_console_start(r.c, &r.rxq, &r.txq), 0);
	CHECK(out_is(&r, "lo!"));
	CHECK(vring_get_used(&r.rx, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 5);
	rig_down(&r);
}

/* Chains a real driver never posts: the device copes, nothing is lost. */
static void hostile_directions(void)
{
	struct vring_seg seg;
	uint32_t id, len;
	struct rig r;
	int head;

	rig_up(&r, true);
	/* Transmit chain that is device-writable only: completed, empty. */
	seg = (struct vring_seg){ .addr = vring_alloc(&r.tx, 8),
				  .len = 8,
				  .write = true };
	head = vring_post(&r.tx, &seg, 1);
	CHECK(head >= 0);
	virtio_console_kick(r.c, VIRTIO_CONSOLE_TXQ);
	CHECK(vring_get_used(&r.tx, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	CHECK_EQ(fake_console_out_len(r.f), 0);
	/* Receive buffer that is device-readable only: completed with 0,
	 * the bytes wait for a real buffer. */
	seg = (struct vring_seg){ .addr = vring_alloc(&r.rx, 8), .len = 8 };
	head = vring_post(&r.rx, &seg, 1);
	CHECK(head >= 0);
	CHECK_EQ(fake_console_rx(r.f, "xyz"), 3);
	virtio_console_poll(r.c);
	CHECK(vring_get_used(&r.rx, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	CHECK_EQ(virtio_console_staged(r.c), 3);
	post_in(&r, 8, NULL);
	virtio_console_kick(r.c, VIRTIO_CONSOLE_RXQ);
	CHECK(vring_get_used(&r.rx, &id, &len));
	CHECK_EQ(len, 3);
	CHECK(!virtio_console_broken(r.c));
	rig_down(&r);
}

/* A 1 MiB chain is written in several passes, all of it, in order. */
static void hostile_huge_chain(void)
{
	const uint32_t size = 1u << 20;
	uint32_t id, len;
	struct rig r;
	gpa_t gpa = VRING_DATA_GPA + 2 * VRING_DATA_SIZE;
	struct vring_seg seg = { .addr = gpa, .len = size };
	unsigned int passes = 0;
	int head;

	rig_up(&r, false); /* no backend: output is discarded */
	memset(host(&r, gpa, size), 'h', size);
	head = vring_post(&r.tx, &seg, 1);
	CHECK(head >= 0);
	virtio_console_kick(r.c, VIRTIO_CONSOLE_TXQ);
	while (!vring_get_used(&r.tx, &id, &len) && passes++ < 100)
		virtio_console_poll(r.c);
	CHECK(passes > 0); /* not in one go: other work gets a turn */
	CHECK(passes < 100);
	CHECK_EQ(id, head);
	rig_down(&r);
}

/* A ring the driver broke: NEEDS_RESET, then quiet until the reset. */
static void hostile_broken_ring(void)
{
	uint32_t id, len;
	struct rig r;

	rig_up(&r, true);
	vring_write_desc(&r.tx, r.tx.desc, 0, VRING_DATA_GPA, 4,
			 VIRTQ_DESC_F_NEXT, 0); /* a loop */
	vring_put_avail(&r.tx, 0);
	virtio_console_kick(r.c, VIRTIO_CONSOLE_TXQ);
	CHECK(virtio_console_broken(r.c));
	CHECK(!vring_get_used(&r.tx, &id, &len));
	CHECK_EQ(fake_console_rx(r.f, "k"), 1);
	post_in(&r, 8, NULL);
	virtio_console_poll(r.c);
	CHECK(!vring_get_used(&r.rx, &id, &len)); /* nothing until reset */
	virtio_console_stop(r.c);
	CHECK(!virtio_console_broken(r.c));
	queue_up(&r, &r.rx, &r.rxq, 0);
	queue_up(&r, &r.tx, &r.txq, 1);
	post_in(&r, 8, NULL);
	CHECK_EQ(virtio_console_start(r.c, &r.rxq, &r.txq), 0);
	CHECK(vring_get_used(&r.rx, &id, &len));
	CHECK_EQ(len, 1);
	rig_down(&r);
}

/* Queues the driver did not enable: the device leaves them alone. */
static void missing_queues(void)
{
	struct rig r;

	rig_up(&r, true);
	virtio_console_stop(r.c);
	CHECK_EQ(virtio_console_start(r.c, NULL, NULL), 0);
	post_out(&r, "x");
	virtio_console_kick(r.c, VIRTIO_CONSOLE_TXQ);
	virtio_console_kick(r.c, VIRTIO_CONSOLE_RXQ);
	virtio_console_kick(r.c, 7);
	CHECK_EQ(fake_console_rx(r.f, "y"), 1);
	virtio_console_poll(r.c);
	CHECK_EQ(fake_console_out_len(r.f), 0);
	CHECK(!virtio_console_broken(r.c));
	rig_down(&r);
}

/* --- behind the PCI transport ------------------------------------------- */

/* A machine with --console virtio, the driver up with both queues. */
static struct vh_host *pci_up(struct vh_dev *d)
{
	struct vh_host *h = vh_host_new();

	h->vm.cfg.console = CONSOLE_VIRTIO;
	fake_vm_realize(&h->vm, &virtio_console_type);
	CHECK_EQ(vh_dev_find(h, d, VIRTIO_ID_CONSOLE, 0), 0);
	CHECK_EQ(vh_dev_start(d, ~0ull), 0);
	return h;
}

static void pci_down(struct vh_host *h, struct vh_dev *d)
{
	vh_dev_free(d);
	vh_host_free(h);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Waits (bounded) until the backend holds n bytes of output. */
static bool wait_out_len(struct vh_host *h, size_t n)
{
	unsigned int i;

	for (i = 0; i < VH_TIMEOUT_MS; i++) {
		if (fake_console_out_len(&h->vm) == n)
			return true;
		sleep_ms(1);
	}
	return false;
}

static void pci_identity_and_config(void)
{
	struct vh_dev d;
	struct vh_host *h = pci_up(&d);

	CHECK_EQ(d.nr_queues, VIRTIO_CONSOLE_NR_QUEUES);
	CHECK_EQ(vh_pci_read(h, d.slot, 0x0b, 1), 0x07); /* communication */
	/* One port: no F_SIZE, MULTIPORT or EMERG_WRITE on offer. */
	CHECK_EQ(d.offered & 0x7, 0);
	CHECK(d.device_len >= VIRTIO_CONSOLE_CONFIG_SIZE);
	CHECK_EQ(vh_cfg_read(&d, 0, 2), 0); /* cols */
	CHECK_EQ(vh_cfg_read(&d, 2, 2), 0); /* rows */
	CHECK_EQ(vh_cfg_read(&d, 4, 4), 1); /* max_nr_ports */
	CHECK_EQ(vh_cfg_read(&d, 8, 4), 0); /* emerg_wr */
	CHECK_EQ(vh_cfg_read(&d, 4, 1), 1); /* narrow and odd reads */
	CHECK_EQ(vh_cfg_read(&d, 5, 1), 0);
	vh_cfg_write(&d, 8, 4, 'x'); /* EMERG_WRITE not offered: ignored */
	CHECK_EQ(fake_console_out_len(&h->vm), 0);
	CHECK(!(vh_status(&d) & VIRTIO_STATUS_NEEDS_RESET));
	pci_down(h, &d);
}

static void pci_echo(void)
{
	static const uint32_t in_size = 4096;
	struct vh_buf out = { .data = "login: ", .len = 7 };
	struct vh_dev d;
	struct vh_host *h = pci_up(&d);
	uint32_t id, len;
	char got[8] = { 0 };
	void *uart;
	int rx, head;

	/* The UART, realized as in a VM (before), does not take over. */
	uart = calloc(1, uart16550_type.state_size);
	CHECK(uart != NULL);
	CHECK_EQ(uart16550_type.realize(uart, &h->vm.host), 0);
	CHECK(h->vm.console.chr.fe_opaque == h->vm.state);
	fake_out8(&h->vm, PORT_COM1, 'u');
	rx = vh_post(&d, VIRTIO_CONSOLE_RXQ, NULL, 0, &in_size, 1);
	CHECK(rx >= 0);
	vh_kick(&d, VIRTIO_CONSOLE_RXQ);
	CHECK_EQ(vh_request(&d, VIRTIO_CONSOLE_TXQ, &out, 1, NULL, 0, &head),
		 0);
	CHECK(wait_out_len(h, 7));
	CHECK(!memcmp(h->vm.console.out, "login: ", 7));
	/* Input arrives on the backend's thread (here, the test's). */
	CHECK_EQ(fake_console_rx(&h->vm, "root\r"), 5);
	CHECK_EQ(vh_wait_used(&d, VIRTIO_CONSOLE_RXQ, &id, &len), 0);
	CHECK_EQ(id, rx);
	CHECK_EQ(len, 5);
	CHECK_EQ(vh_read_in(&d, VIRTIO_CONSOLE_RXQ, rx, 0, got, 5), 5);
	CHECK(!memcmp(got, "root\r", 5));
	CHECK(!memcmp(h->vm.console.out, "login: ", 7)); /* no 'u' */
	uart16550_type.unrealize(uart);
	free(uart);
	h->vm.type->unrealize(h->vm.state);
	h->vm.type = NULL;
	CHECK(h->vm.console.chr.fe == NULL); /* detached */
	pci_down(h, &d);
}

static void pci_short_write_resumes(void)
{
	struct vh_buf out = { .data = "0123456789", .len = 10 };
	struct vh_dev d;
	struct vh_host *h = pci_up(&d);
	uint32_t id, len;
	int head;

	fake_console_space(&h->vm, 4);
	head = vh_post(&d, VIRTIO_CONSOLE_TXQ, &out, 1, NULL, 0);
	CHECK(head >= 0);
	vh_kick(&d, VIRTIO_CONSOLE_TXQ);
	CHECK(wait_out_len(h, 4));
	/* The backend is full: the chain cannot complete until tx_ready. */
	vh_kick(&d, VIRTIO_CONSOLE_TXQ);
	sleep_ms(20);
	CHECK(!vh_poll_used(&d, VIRTIO_CONSOLE_TXQ, &id, &len));
	CHECK_EQ(fake_console_out_len(&h->vm), 4);
	fake_console_space(&h->vm, 100);
	fake_console_tx_ready(&h->vm);
	CHECK_EQ(vh_wait_used(&d, VIRTIO_CONSOLE_TXQ, &id, &len), 0);
	CHECK_EQ(id, head);
	CHECK(wait_out_len(h, 10));
	CHECK(!memcmp(h->vm.console.out, "0123456789", 10));
	pci_down(h, &d);
}

static void pci_input_backpressure(void)
{
	static char big[VIRTIO_CONSOLE_RX_BUF + 1];
	static const uint32_t in_size = VIRTIO_CONSOLE_RX_BUF;
	struct vh_dev d;
	struct vh_host *h = pci_up(&d);
	uint32_t id, len;
	unsigned int i;
	int rx;

	memset(big, 'k', sizeof(big) - 1);
	CHECK_EQ(fake_console_rx(&h->vm, big), VIRTIO_CONSOLE_RX_BUF);
	CHECK_EQ(fake_console_rx(&h->vm, "!"), 0);
	rx = vh_post(&d, VIRTIO_CONSOLE_RXQ, NULL, 0, &in_size, 1);
	vh_kick(&d, VIRTIO_CONSOLE_RXQ);
	CHECK_EQ(vh_wait_used(&d, VIRTIO_CONSOLE_RXQ, &id, &len), 0);
	CHECK_EQ(id, rx);
	CHECK_EQ(len, VIRTIO_CONSOLE_RX_BUF);
	for (i = 0; i < VH_TIMEOUT_MS; i++) {
		pthread_mutex_lock(&h->vm.console.lock);
		len = h->vm.console.rx_ready_calls;
		pthread_mutex_unlock(&h->vm.console.lock);
		if (len)
			break;
		sleep_ms(1);
	}
	CHECK_EQ(len, 1);
	CHECK_EQ(fake_console_rx(&h->vm, "!"), 1);
	pci_down(h, &d);
}

static void pci_reset_in_flight(void)
{
	struct vh_buf out = { .data = "in flight", .len = 9 };
	struct vh_buf out2 = { .data = "after", .len = 5 };
	struct vh_dev d;
	struct vh_host *h = pci_up(&d);
	int head;

	fake_console_space(&h->vm, 2);
	CHECK(vh_post(&d, VIRTIO_CONSOLE_TXQ, &out, 1, NULL, 0) >= 0);
	vh_kick(&d, VIRTIO_CONSOLE_TXQ);
	CHECK(wait_out_len(h, 2));
	CHECK_EQ(vh_reset(&d), 0);
	CHECK(h->vm.console.chr.fe != NULL); /* stays attached */
	fake_console_space(&h->vm, 100);
	fake_console_tx_ready(&h->vm); /* after the reset: touches nothing */
	CHECK_EQ(vh_dev_start(&d, ~0ull), 0);
	CHECK_EQ(vh_request(&d, VIRTIO_CONSOLE_TXQ, &out2, 1, NULL, 0, &head),
		 0);
	CHECK(wait_out_len(h, 7));
	CHECK(!memcmp(h->vm.console.out, "inafter", 7));
	pci_down(h, &d);
}

/* A broken ring: NEEDS_RESET, and the device works after a reset. */
static void pci_broken_ring(void)
{
	struct vring_seg seg = { .addr = 0x10, .len = 16 }; /* not RAM */
	struct vh_buf out = { .data = "ok", .len = 2 };
	struct vh_dev d;
	struct vh_host *h = pci_up(&d);
	int head;

	CHECK(vh_post_raw(&d, VIRTIO_CONSOLE_TXQ, &seg, 1) >= 0);
	vh_kick(&d, VIRTIO_CONSOLE_TXQ);
	CHECK_EQ(vh_wait_status(&d, VIRTIO_STATUS_NEEDS_RESET), 0);
	CHECK_EQ(vh_reset(&d), 0);
	CHECK_EQ(vh_dev_start(&d, ~0ull), 0);
	CHECK_EQ(vh_request(&d, VIRTIO_CONSOLE_TXQ, &out, 1, NULL, 0, &head),
		 0);
	CHECK(wait_out_len(h, 2));
	pci_down(h, &d);
}

/* --- the UART and the console option ------------------------------------ */

static struct fake_vm *uart_with(enum console_kind kind)
{
	struct fake_vm *f = fake_vm_new(NULL);

	f->cfg.console = kind;
	fake_vm_realize(f, &uart16550_type);
	return f;
}

static void uart_gives_up_terminal(void)
{
	struct fake_vm *f = uart_with(CONSOLE_VIRTIO);

	CHECK(f->console.chr.fe == NULL);
	fake_out8(f, PORT_COM1 + 0, 'u'); /* THR */
	CHECK_EQ(fake_console_out_len(f), 0);
	CHECK_EQ(fake_in8(f, PORT_COM1 + 5) & 0x60, 0x60); /* still empty */
	fake_vm_free(f);

	f = uart_with(CONSOLE_SERIAL);
	CHECK(f->console.chr.fe != NULL);
	fake_out8(f, PORT_COM1 + 0, 'u');
	CHECK_EQ(fake_console_out_len(f), 1);
	fake_vm_free(f);
}

/* Without --console virtio there is no virtio console at all. */
static void absent_unless_asked(void)
{
	struct fake_vm *f = fake_vm_new(NULL);

	f->cfg.console = CONSOLE_SERIAL;
	fake_vm_realize(f, &virtio_console_type);
	CHECK(f->console.chr.fe == NULL);
	fake_vm_free(f);
}

TEST_SUITE(virtio_console, TEST_CASE(output_in_order),
	   TEST_CASE(short_write_resumes), TEST_CASE(input_reaches_guest),
	   TEST_CASE(input_spans_buffers), TEST_CASE(input_backpressure),
	   TEST_CASE(reset_with_chain_in_flight), TEST_CASE(hostile_directions),
	   TEST_CASE(hostile_huge_chain), TEST_CASE(hostile_broken_ring),
	   TEST_CASE(missing_queues), TEST_CASE(pci_identity_and_config),
	   TEST_CASE(pci_echo), TEST_CASE(pci_short_write_resumes),
	   TEST_CASE(pci_input_backpressure), TEST_CASE(pci_reset_in_flight),
	   TEST_CASE(pci_broken_ring), TEST_CASE(uart_gives_up_terminal),
	   TEST_CASE(absent_unless_asked));
