// SPDX-License-Identifier: MIT
/*
 * Tests of the virtio modern PCI transport (src/virtio/virtio_pci.c)
 * through the harness (virtio_harness.h), with an "echo" device that
 * copies each request's readable bytes into its writable buffers.
 *
 * The hostile_* cases play a misbehaving driver. Each checks that mica
 * does not crash, that the device ignores the access, fails the request
 * or enters NEEDS_RESET, and that a second device on the same machine
 * keeps working.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pci/pci.h"
#include "unit/test.h"
#include "unit/virtio_harness.h"
#include "util/loop.h"
#include "virtio/virtio.h"
#include "virtio/virtio_pci.h"

#define ECHO_ID 42 /* a virtio device ID nobody uses in mica */
#define ECHO_QUEUES 2
#define ECHO_QSIZE 64
#define ECHO_CFG 16
#define ECHO_F_X 0 /* a device feature bit */
#define ECHO_MAX_HELD 64

struct echo {
	struct virtio_device *vdev;
	pthread_mutex_t lock;
	uint8_t cfg[ECHO_CFG];
	uint64_t features;
	unsigned int activates, resets, notifies;
	bool hold; /* keep requests in flight instead of answering */
	struct virtq_elem *held[ECHO_MAX_HELD];
	unsigned int held_q[ECHO_MAX_HELD];
	unsigned int nr_held;
	int activate_rc;
	pthread_t tid; /* the thread of activate/notify/reset */
	bool tid_set, wrong_thread;
	unsigned int pop_errors;
};

static void echo_thread(struct echo *e)
{
	if (!e->tid_set) {
		e->tid = pthread_self();
		e->tid_set = true;
	} else if (!pthread_equal(e->tid, pthread_self())) {
		e->wrong_thread = true;
	}
}

static void echo_config_read(void *opaque, uint32_t off, void *buf,
			     uint32_t len)
{
	struct echo *e = opaque;

	pthread_mutex_lock(&e->lock);
	memcpy(buf, e->cfg + off, len);
	pthread_mutex_unlock(&e->lock);
}

static void echo_config_write(void *opaque, uint32_t off, const void *buf,
			      uint32_t len)
{
	struct echo *e = opaque;

	pthread_mutex_lock(&e->lock);
	memcpy(e->cfg + off, buf, len);
	pthread_mutex_unlock(&e->lock);
}

static int echo_activate(void *opaque, uint64_t features)
{
	struct echo *e = opaque;

	pthread_mutex_lock(&e->lock);
	echo_thread(e);
	e->features = features;
	e->activates++;
	pthread_mutex_unlock(&e->lock);
	return e->activate_rc;
}

static void echo_queue_notify(void *opaque, unsigned int q)
{
	struct echo *e = opaque;
	struct virtq *vq = virtio_queue(e->vdev, q);
	struct virtq_elem *el;
	uint8_t buf[4096];
	int rc;

	pthread_mutex_lock(&e->lock);
	echo_thread(e);
	e->notifies++;
	pthread_mutex_unlock(&e->lock);
	while ((rc = virtq_pop(vq, &el)) == 1) {
		uint64_t n = el->out_len < el->in_len ? el->out_len :
							el->in_len;

		if (n > sizeof(buf))
			n = sizeof(buf);
		virtq_copy_from(el, 0, buf, n);
		if (n >= 5 && !memcmp(buf, "BREAK", 5)) {
			virtq_push(vq, el, 0);
			virtio_set_needs_reset(e->vdev, "echo: asked to break");
			break;
		}
		pthread_mutex_lock(&e->lock);
		if (e->hold && e->nr_held < ECHO_MAX_HELD) {
			e->held_q[e->nr_held] = q;
			e->held[e->nr_held++] = el;
			pthread_mutex_unlock(&e->lock);
			continue;
		}
		pthread_mutex_unlock(&e->lock);
		virtq_copy_to(el, 0, buf, n);
		virtq_push(vq, el, (uint32_t)n);
	}
	if (rc < 0) {
		pthread_mutex_lock(&e->lock);
		e->pop_errors++;
		pthread_mutex_unlock(&e->lock);
		virtio_set_needs_reset(e->vdev, "echo: broken ring");
	}
	virtio_notify(e->vdev, q);
}

static void echo_reset(void *opaque)
{
	struct echo *e = opaque;
	unsigned int i;

	pthread_mutex_lock(&e->lock);
	echo_thread(e);
	for (i = 0; i < e->nr_held; i++)
		virtq_elem_free(e->held[i]); /* cancelled, never used */
	e->nr_held = 0;
	e->resets++;
	pthread_mutex_unlock(&e->lock);
}

static const struct virtio_device_ops echo_ops = {
	.name = "virtio-echo",
	.device_id = ECHO_ID,
	.pci_class = 0xff0000,
	.nr_queues = ECHO_QUEUES,
	.queue_max_size = ECHO_QSIZE,
	.features = 1ull << ECHO_F_X | 1ull << VIRTIO_F_INDIRECT_DESC |
		    1ull << VIRTIO_F_EVENT_IDX,
	.config_size = ECHO_CFG,
	.config_read = echo_config_read,
	.config_write = echo_config_write,
	.activate = echo_activate,
	.queue_notify = echo_queue_notify,
	.reset = echo_reset,
};

static void echo_init(struct echo *e)
{
	unsigned int i;

	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->lock, NULL);
	for (i = 0; i < ECHO_CFG; i++)
		e->cfg[i] = (uint8_t)(0xa0 + i);
}

static unsigned int echo_get(struct echo *e, const unsigned int *field)
{
	unsigned int v;

	pthread_mutex_lock(&e->lock);
	v = *field;
	pthread_mutex_unlock(&e->lock);
	return v;
}

static void pause_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Waits (bounded) until *field reaches want. */
static bool echo_wait(struct echo *e, const unsigned int *field,
		      unsigned int want)
{
	unsigned int i;

	for (i = 0; i < VH_TIMEOUT_MS; i++) {
		if (echo_get(e, field) >= want)
			return true;
		pause_ms(1);
	}
	return false;
}

/* Two echo devices on one machine: a (the victim) and b (a bystander). */
struct rig {
	struct vh_host *h;
	struct echo ea, eb;
	struct vh_dev a, b;
};

static void rig_init(struct rig *r, bool start_a)
{
	memset(r, 0, sizeof(*r));
	r->h = vh_host_new();
	echo_init(&r->ea);
	echo_init(&r->eb);
	r->ea.vdev = vh_create(r->h, "echo0", &echo_ops, &r->ea);
	r->eb.vdev = vh_create(r->h, "echo1", &echo_ops, &r->eb);
	CHECK(r->ea.vdev && r->eb.vdev);
	CHECK_EQ(vh_dev_find(r->h, &r->a, ECHO_ID, 0), 0);
	CHECK_EQ(vh_dev_find(r->h, &r->b, ECHO_ID, 1), 0);
	CHECK_EQ(vh_dev_start(&r->b, ~0ull), 0);
	if (start_a)
		CHECK_EQ(vh_dev_start(&r->a, ~0ull), 0);
}

static void rig_fini(struct rig *r)
{
	vh_dev_free(&r->a);
	vh_dev_free(&r->b);
	vh_host_free(r->h);
	pthread_mutex_destroy(&r->ea.lock);
	pthread_mutex_destroy(&r->eb.lock);
}

/* One echo round trip on queue q of d; true if it came back right. */
static bool echo_ok(struct vh_dev *d, unsigned int q)
{
	static const char msg[] = "hello, device";
	struct vh_buf out = { .data = msg, .len = sizeof(msg) };
	uint32_t in = 64;
	char got[64] = { 0 };
	int head, len;

	len = vh_request(d, q, &out, 1, &in, 1, &head);
	if (len != (int)sizeof(msg))
		return false;
	vh_read_in(d, q, head, 0, got, sizeof(got));
	return !memcmp(got, msg, sizeof(msg));
}

/* The bystander still works; the victim recovers after a reset. */
static void rig_check(struct rig *r)
{
	CHECK(echo_ok(&r->b, 0));
	CHECK(echo_ok(&r->b, 1));
	CHECK_EQ(vh_status(&r->b),
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	CHECK_EQ(vh_dev_start(&r->a, ~0ull), 0);
	CHECK(echo_ok(&r->a, 0));
	CHECK(!r->ea.wrong_thread && !r->eb.wrong_thread);
}

static bool needs_reset(struct vh_dev *d)
{
	return vh_status(d) & VIRTIO_STATUS_NEEDS_RESET;
}

/* Driver bring-up up to (not including) the queues. */
static void begin(struct vh_dev *d)
{
	CHECK_EQ(vh_reset(d), 0);
	vh_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vh_device_features(d);
	CHECK_EQ(vh_negotiate(d, 1ull << VIRTIO_F_VERSION_1), 0);
}

/* ---- normal operation ---- */

static void test_identity_and_caps(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;
	unsigned int off;
	uint32_t bar;

	rig_init(&r, false);
	CHECK_EQ(vh_pci_read(r.h, d->slot, PCI_VENDOR_ID, 2), 0x1af4);
	CHECK_EQ(vh_pci_read(r.h, d->slot, PCI_DEVICE_ID, 2), 0x1040 + ECHO_ID);
	CHECK_EQ(vh_pci_read(r.h, d->slot, PCI_REVISION_ID, 1), 1);
	CHECK_EQ(vh_pci_read(r.h, d->slot, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	CHECK(vh_pci_read(r.h, d->slot, PCI_SUBSYSTEM_ID, 2) >= 0x40);
	CHECK_EQ(vh_pci_read(r.h, d->slot, PCI_REVISION_ID, 4) >> 8, 0xff0000);
	CHECK_EQ(vh_pci_read(r.h, d->slot, PCI_INTERRUPT_PIN, 1), 1);

	/* BAR 0: 32-bit memory, VIRTIO_PCI_BAR_SIZE by sizing. */
	bar = vh_pci_read(r.h, d->slot, PCI_BASE_ADDRESS_0, 4);
	CHECK_EQ(bar & 0xf, 0);
	vh_pci_write(r.h, d->slot, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	CHECK_EQ(vh_pci_read(r.h, d->slot, PCI_BASE_ADDRESS_0, 4) & ~0xfu,
		 (uint32_t)-VIRTIO_PCI_BAR_SIZE);
	vh_pci_write(r.h, d->slot, PCI_BASE_ADDRESS_0, 4, bar);

	/* All five types, with their lengths, inside the BAR. */
	for (off = 1; off <= VIRTIO_PCI_CAP_PCI_CFG; off++)
		CHECK(d->cap[off] != 0);
	CHECK_EQ(d->common, VIRTIO_PCI_COMMON_OFF);
	CHECK_EQ(d->common_len, VIRTIO_PCI_COMMON_SIZE);
	CHECK_EQ(d->notify_len, ECHO_QUEUES * 4);
	CHECK_EQ(d->notify_mult, 4);
	CHECK_EQ(d->isr_len, 1);
	CHECK_EQ(d->device_len, ECHO_CFG);
	CHECK(d->notify + d->notify_len <= VIRTIO_PCI_BAR_SIZE);
	CHECK(d->device + d->device_len <= VIRTIO_PCI_BAR_SIZE);
	CHECK_EQ(vh_pci_read(r.h, d->slot,
			     d->cap[VIRTIO_PCI_CAP_COMMON_CFG] +
				     VIRTIO_PCI_CAP_LEN_OFF,
			     1),
		 VIRTIO_PCI_CAP_SIZE);
	CHECK_EQ(vh_pci_read(r.h, d->slot,
			     d->cap[VIRTIO_PCI_CAP_NOTIFY_CFG] +
				     VIRTIO_PCI_CAP_LEN_OFF,
			     1),
		 VIRTIO_PCI_NOTIFY_CAP_SIZE);
	CHECK_EQ(vh_pci_read(r.h, d->slot,
			     d->cap[VIRTIO_PCI_CAP_PCI_CFG] +
				     VIRTIO_PCI_CAP_LEN_OFF,
			     1),
		 VIRTIO_PCI_CFG_CAP_SIZE);
	/* MSI-X: one vector per queue and one for configuration changes. */
	CHECK(d->cap_msix != 0);
	CHECK_EQ((vh_pci_read(r.h, d->slot, d->cap_msix + 2, 2) & 0x7ff) + 1,
		 ECHO_QUEUES + 1);
	CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_NUMQ, 2), ECHO_QUEUES);
	rig_fini(&r);
}

static void test_features(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;
	uint64_t f;

	rig_init(&r, false);
	CHECK_EQ(vh_reset(d), 0);
	vh_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	f = vh_device_features(d);
	CHECK_EQ(f, echo_ops.features | 1ull << VIRTIO_F_VERSION_1);
	vh_common_write(d, VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
	CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_DF, 4), 0);

	/* Not offered: refused. */
	CHECK_EQ(vh_negotiate(d, f | 1ull << 40), -EIO);
	/* Without VERSION_1: refused. */
	CHECK_EQ(vh_negotiate(d, 1ull << ECHO_F_X), -EIO);
	/* A subset with VERSION_1: accepted, and read back. */
	CHECK_EQ(vh_negotiate(d, 1ull << ECHO_F_X | 1ull << VIRTIO_F_VERSION_1),
		 0);
	vh_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_GF, 4), 1);
	vh_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_GF, 4), 1);
	vh_msix_setup(d);
	CHECK_EQ(vh_queue_setup(d, 0, 0), 0);
	CHECK_EQ(vh_driver_ok(d), 0);
	CHECK_EQ(r.ea.features, 1ull << ECHO_F_X | 1ull << VIRTIO_F_VERSION_1);
	CHECK(echo_ok(d, 0));
	rig_fini(&r);
}

static void test_status_machine(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;

	rig_init(&r, false);
	CHECK_EQ(vh_status(d), 0);
	vh_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	CHECK_EQ(vh_status(d), VIRTIO_STATUS_ACKNOWLEDGE);
	vh_set_status(d, VIRTIO_STATUS_DRIVER);
	CHECK_EQ(vh_status(d),
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	CHECK_EQ(r.ea.activates, 0);
	CHECK_EQ(vh_negotiate(d, 1ull << VIRTIO_F_VERSION_1), 0);
	vh_msix_setup(d);
	CHECK_EQ(vh_queue_setup(d, 0, 0), 0);
	CHECK_EQ(vh_queue_setup(d, 1, 0), 0);
	CHECK_EQ(vh_driver_ok(d), 0);
	/* The DRIVER_OK write returns after activate() ran. */
	CHECK_EQ(echo_get(&r.ea, &r.ea.activates), 1);
	CHECK_EQ(vh_status(d), 0x0f);
	/* Setting FAILED keeps the rest. */
	vh_set_status(d, VIRTIO_STATUS_FAILED);
	CHECK_EQ(vh_status(d), 0x8f);

	/* Reset: status 0 once reset() ran; the transport forgot the setup. */
	CHECK_EQ(vh_reset(d), 0);
	CHECK_EQ(echo_get(&r.ea, &r.ea.resets), 1);
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2), ECHO_QSIZE);
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2),
		 VIRTIO_MSI_NO_VECTOR);
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
	CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_MSIX, 2),
		 VIRTIO_MSI_NO_VECTOR);
	vh_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_GF, 4), 0);
	/* A reset of a device that never started does not call reset(). */
	CHECK_EQ(vh_reset(d), 0);
	CHECK_EQ(echo_get(&r.ea, &r.ea.resets), 1);

	/* And it comes back. */
	CHECK_EQ(vh_dev_start(d, ~0ull), 0);
	CHECK(echo_ok(d, 0));
	CHECK_EQ(echo_get(&r.ea, &r.ea.activates), 2);
	rig_fini(&r);
}

static void test_queue_setup(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;
	unsigned int q;

	rig_init(&r, false);
	begin(d);
	for (q = 0; q < ECHO_QUEUES; q++) {
		CHECK_EQ(vh_queue_read(d, q, VIRTIO_PCI_COMMON_Q_SIZE, 2),
			 ECHO_QSIZE);
		CHECK_EQ(vh_queue_read(d, q, VIRTIO_PCI_COMMON_Q_NOFF, 2), q);
		CHECK_EQ(vh_queue_read(d, q, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	}
	/* 64-bit addresses as two halves, and as one 8-byte write. */
	vh_queue_write(d, 1, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x12345000);
	vh_queue_write(d, 1, VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0x9);
	CHECK_EQ(vh_queue_read(d, 1, VIRTIO_PCI_COMMON_Q_DESCLO, 8),
		 0x912345000ull);
	CHECK_EQ(vh_queue_read(d, 1, VIRTIO_PCI_COMMON_Q_DESCHI, 4), 0x9);
	vh_queue_write(d, 1, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, 0x1234567890ull);
	CHECK_EQ(vh_queue_read(d, 1, VIRTIO_PCI_COMMON_Q_AVAILLO, 4),
		 0x34567890);
	CHECK_EQ(vh_queue_read(d, 1, VIRTIO_PCI_COMMON_Q_AVAILHI, 4), 0x12);
	/* A smaller power-of-two size is taken. */
	vh_msix_setup(d);
	CHECK_EQ(vh_queue_setup(d, 0, 16), 0);
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2), 16);
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0);
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	/* After enable, queue fields are read-only. */
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x5000);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2), 16);
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_DESCLO, 8),
		 d->q[0].vr.desc);
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0);
	/* Queue 1 stays disabled: DRIVER_OK is fine with that. */
	CHECK_EQ(vh_driver_ok(d), 0);
	CHECK(echo_ok(d, 0));
	CHECK(!virtio_queue_enabled(r.ea.vdev, 1));
	CHECK(virtio_queue_enabled(r.ea.vdev, 0));
	rig_fini(&r);
}

static void test_notify_on_iothread(void)
{
	struct rig r;
	unsigned int i;

	rig_init(&r, true);
	for (i = 0; i < 100; i++)
		CHECK(echo_ok(&r.a, i % 2));
	CHECK(r.ea.tid_set);
	CHECK(!pthread_equal(r.ea.tid, pthread_self()));
	CHECK(!pthread_equal(r.ea.tid, r.eb.tid));
	CHECK(!r.ea.wrong_thread);
	CHECK(echo_get(&r.ea, &r.ea.notifies) >= 1);
	/* Many in flight at once, then one kick. */
	for (i = 0; i < 32; i++) {
		struct vh_buf out = { .data = &i, .len = sizeof(i) };
		uint32_t in = 8;

		CHECK(vh_post(&r.a, 0, &out, 1, &in, 1) >= 0);
	}
	vh_kick(&r.a, 0);
	for (i = 0; i < 32; i++) {
		uint32_t id, len;
		unsigned int got = 99;

		CHECK_EQ(vh_wait_used(&r.a, 0, &id, &len), 0);
		CHECK_EQ(len, sizeof(i));
		vh_read_in(&r.a, 0, (int)id, 0, &got, sizeof(got));
		CHECK_EQ(got, i);
	}
	rig_fini(&r);
}

static void test_early_kick(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;
	struct vh_buf out = { .data = "early", .len = 5 };
	uint32_t in = 8, id, len;
	int head;

	rig_init(&r, false);
	begin(d);
	vh_msix_setup(d);
	CHECK_EQ(vh_queue_setup(d, 0, 0), 0);
	CHECK_EQ(vh_queue_setup(d, 1, 0), 0);
	/* Posted and kicked before DRIVER_OK: served once it is set. */
	head = vh_post(d, 1, &out, 1, &in, 1);
	CHECK(head >= 0);
	vh_kick(d, 1);
	CHECK(echo_ok(&r.b, 0)); /* a pause; the request must stay */
	CHECK(!vh_poll_used(d, 1, &id, &len));
	CHECK_EQ(echo_get(&r.ea, &r.ea.notifies), 0);
	CHECK_EQ(vh_driver_ok(d), 0);
	CHECK_EQ(vh_wait_used(d, 1, &id, &len), 0);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 5);
	CHECK(!needs_reset(d));
	rig_check(&r);
	rig_fini(&r);
}

static void test_ioeventfd_follows_bar(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;
	uint64_t old, moved;
	uint32_t cmd;

	rig_init(&r, true);
	old = d->bar;
	CHECK(vh_ioeventfd_at(r.h, old + VIRTIO_PCI_NOTIFY_OFF));
	CHECK(vh_ioeventfd_at(r.h, old + VIRTIO_PCI_NOTIFY_OFF + 4));
	/* Decoding off: gone. */
	cmd = vh_pci_read(r.h, d->slot, PCI_COMMAND, 2);
	vh_pci_write(r.h, d->slot, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
	CHECK(!vh_ioeventfd_at(r.h, old + VIRTIO_PCI_NOTIFY_OFF));
	/* Moved and on again: at the new place. */
	moved = old + 0x100000;
	vh_pci_write(r.h, d->slot, PCI_BASE_ADDRESS_0, 4, (uint32_t)moved);
	vh_pci_write(r.h, d->slot, PCI_COMMAND, 2, cmd);
	CHECK(vh_ioeventfd_at(r.h, moved + VIRTIO_PCI_NOTIFY_OFF));
	CHECK(vh_ioeventfd_at(r.h, moved + VIRTIO_PCI_NOTIFY_OFF + 4));
	CHECK(!vh_ioeventfd_at(r.h, old + VIRTIO_PCI_NOTIFY_OFF));
	d->bar = moved;
	CHECK(echo_ok(d, 1));
	rig_check(&r);
	rig_fini(&r);
}

static void test_msix(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;
	uint8_t gen;

	rig_init(&r, true);
	vh_msix_count(d, 0);
	CHECK(echo_ok(d, 0));
	CHECK_EQ(vh_wait_msix(d, 0), 0);
	CHECK(echo_ok(d, 1));
	CHECK_EQ(vh_wait_msix(d, 1), 0);
	CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_MSIX, 2), ECHO_QUEUES);
	/* No INTx and no queue bit in the ISR with MSI-X. */
	CHECK(!vh_intx_level(d));
	CHECK_EQ(vh_isr_read(d), 0);
	/* A configuration change: its vector, a new generation. */
	gen = (uint8_t)vh_common_read(d, VIRTIO_PCI_COMMON_CFGGEN, 1);
	virtio_config_changed(r.ea.vdev);
	CHECK_EQ(vh_wait_msix(d, ECHO_QUEUES), 0);
	CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_CFGGEN, 1),
		 (uint8_t)(gen + 1));
	CHECK_EQ(vh_isr_read(d), VIRTIO_ISR_CONFIG);
	/* A queue without a vector gets no interrupt. */
	CHECK_EQ(vh_reset(d), 0);
	begin(d);
	vh_msix_setup(d);
	d->msix = false; /* vh_queue_setup() leaves the vector alone */
	CHECK_EQ(vh_queue_setup(d, 0, 0), 0);
	d->msix = true;
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2),
		 VIRTIO_MSI_NO_VECTOR);
	CHECK_EQ(vh_driver_ok(d), 0);
	vh_msix_count(d, 0);
	CHECK(echo_ok(d, 0));
	CHECK_EQ(vh_msix_count(d, 0), 0);
	CHECK(!vh_intx_level(d));
	rig_fini(&r);
}

static void test_intx(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;
	unsigned int i;

	rig_init(&r, false);
	begin(d);
	/* No MSI-X: interrupts through the ISR and INTx. */
	CHECK_EQ(vh_queue_setup(d, 0, 0), 0);
	CHECK_EQ(vh_driver_ok(d), 0);
	CHECK(!vh_intx_level(d));
	CHECK(echo_ok(d, 0));
	for (i = 0; i < VH_TIMEOUT_MS && !vh_intx_level(d); i++)
		pause_ms(1);
	CHECK(vh_intx_level(d));
	CHECK_EQ(vh_pci_read(r.h, d->slot, PCI_STATUS, 2) &
			 PCI_STATUS_INTERRUPT,
		 PCI_STATUS_INTERRUPT);
	CHECK_EQ(vh_isr_read(d), VIRTIO_ISR_QUEUE);
	CHECK(!vh_intx_level(d)); /* the read deasserted it */
	CHECK_EQ(vh_isr_read(d), 0);
	virtio_config_changed(r.ea.vdev);
	CHECK(vh_intx_level(d));
	CHECK_EQ(vh_isr_read(d), VIRTIO_ISR_CONFIG);
	CHECK(!vh_intx_level(d));
	rig_check(&r);
	rig_fini(&r);
}

static void test_reset_in_flight(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;
	unsigned int i;

	rig_init(&r, true);
	pthread_mutex_lock(&r.ea.lock);
	r.ea.hold = true;
	pthread_mutex_unlock(&r.ea.lock);
	for (i = 0; i < 8; i++) {
		struct vh_buf out = { .data = "x", .len = 1 };
		uint32_t in = 4;

		CHECK(vh_post(d, i % 2, &out, 1, &in, 1) >= 0);
	}
	vh_kick(d, 0);
	vh_kick(d, 1);
	CHECK(echo_wait(&r.ea, &r.ea.nr_held, 8));
	/* Status reads 0 only after reset() cancelled them. */
	CHECK_EQ(vh_reset(d), 0);
	CHECK_EQ(echo_get(&r.ea, &r.ea.nr_held), 0);
	CHECK_EQ(echo_get(&r.ea, &r.ea.resets), 1);
	pthread_mutex_lock(&r.ea.lock);
	r.ea.hold = false;
	pthread_mutex_unlock(&r.ea.lock);
	rig_check(&r);
	rig_fini(&r);
}

static void test_needs_reset(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;
	struct vh_buf out = { .data = "BREAK", .len = 5 };
	uint32_t in = 8, id, len;
	unsigned int notifies;

	rig_init(&r, true);
	vh_msix_count(d, ECHO_QUEUES);
	CHECK(vh_post(d, 0, &out, 1, &in, 1) >= 0);
	vh_kick(d, 0);
	CHECK_EQ(vh_wait_status(d, VIRTIO_STATUS_NEEDS_RESET), 0);
	/* The driver is told through the configuration vector. */
	CHECK_EQ(vh_wait_msix(d, ECHO_QUEUES), 0);
	CHECK_EQ(vh_wait_used(d, 0, &id, &len), 0);
	/* No more notifications reach the device. */
	notifies = echo_get(&r.ea, &r.ea.notifies);
	out.data = "hello";
	CHECK(vh_post(d, 0, &out, 1, &in, 1) >= 0);
	vh_kick(d, 0);
	CHECK(echo_ok(&r.b, 0)); /* b's thread is not a's; just a pause */
	pause_ms(10);
	CHECK_EQ(echo_get(&r.ea, &r.ea.notifies), notifies);
	CHECK(!vh_poll_used(d, 0, &id, &len));
	/* Driver writes do not clear it; a reset does. */
	vh_set_status(d, VIRTIO_STATUS_DRIVER);
	CHECK(needs_reset(d));
	rig_check(&r);
	CHECK(!needs_reset(d));
	rig_fini(&r);
}

static void test_activate_failure(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;

	rig_init(&r, false);
	r.ea.activate_rc = -EIO;
	CHECK_EQ(vh_dev_start(d, ~0ull), -EIO);
	CHECK(needs_reset(d));
	r.ea.activate_rc = 0;
	CHECK_EQ(vh_reset(d), 0);
	CHECK_EQ(echo_get(&r.ea, &r.ea.resets), 1); /* activate was called */
	rig_check(&r);
	rig_fini(&r);
}

/* Sets the PCI_CFG window and reads or writes through it. */
static uint32_t window_read(struct vh_dev *d, uint8_t bar, uint32_t off,
			    uint32_t len)
{
	unsigned int cap = d->cap[VIRTIO_PCI_CAP_PCI_CFG];

	vh_pci_write(d->h, d->slot, cap + VIRTIO_PCI_CAP_BAR_OFF, 1, bar);
	vh_pci_write(d->h, d->slot, cap + VIRTIO_PCI_CAP_OFFSET_OFF, 4, off);
	vh_pci_write(d->h, d->slot, cap + VIRTIO_PCI_CAP_LENGTH_OFF, 4, len);
	return vh_pci_read(d->h, d->slot, cap + VIRTIO_PCI_CAP_DATA_OFF, 4);
}

static void window_write(struct vh_dev *d, uint8_t bar, uint32_t off,
			 uint32_t len, uint32_t v)
{
	unsigned int cap = d->cap[VIRTIO_PCI_CAP_PCI_CFG];

	vh_pci_write(d->h, d->slot, cap + VIRTIO_PCI_CAP_BAR_OFF, 1, bar);
	vh_pci_write(d->h, d->slot, cap + VIRTIO_PCI_CAP_OFFSET_OFF, 4, off);
	vh_pci_write(d->h, d->slot, cap + VIRTIO_PCI_CAP_LENGTH_OFF, 4, len);
	vh_pci_write(d->h, d->slot, cap + VIRTIO_PCI_CAP_DATA_OFF, 4, v);
}

static void test_pci_cfg_window(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;

	rig_init(&r, false);
	CHECK_EQ(window_read(d, 0, VIRTIO_PCI_COMMON_NUMQ, 2) & 0xffff,
		 ECHO_QUEUES);
	CHECK_EQ(window_read(d, 0, VIRTIO_PCI_DEVICE_OFF, 4), 0xa3a2a1a0);
	CHECK_EQ(window_read(d, 0, VIRTIO_PCI_DEVICE_OFF + 5, 1) & 0xff, 0xa5);
	/* Status through the window, then normal access sees it. */
	window_write(d, 0, VIRTIO_PCI_COMMON_STATUS, 1,
		     VIRTIO_STATUS_ACKNOWLEDGE);
	CHECK_EQ(vh_status(d), VIRTIO_STATUS_ACKNOWLEDGE);
	window_write(d, 0, VIRTIO_PCI_DEVICE_OFF + 8, 4, 0x11223344);
	CHECK_EQ(vh_cfg_read(d, 8, 4), 0x11223344);
	/* The MSI-X table through the window (entry 0's data). */
	window_write(d, 0, VIRTIO_PCI_MSIX_TABLE_OFF + 8, 4, 0x4321);
	CHECK_EQ(window_read(d, 0, VIRTIO_PCI_MSIX_TABLE_OFF + 8, 4), 0x4321);
	/* Reset through the window. */
	window_write(d, 0, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	CHECK_EQ(vh_status(d), 0);
	rig_check(&r);
	rig_fini(&r);
}

static void test_config_space(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;

	rig_init(&r, true);
	CHECK_EQ(vh_cfg_read(d, 0, 1), 0xa0);
	CHECK_EQ(vh_cfg_read(d, 2, 2), 0xa3a2);
	CHECK_EQ(vh_cfg_read(d, 4, 4), 0xa7a6a5a4);
	CHECK_EQ(vh_cfg_read(d, 8, 8), 0xafaeadacabaaa9a8ull);
	vh_cfg_write(d, 3, 1, 0x55);
	CHECK_EQ(vh_cfg_read(d, 0, 4), 0x55a2a1a0);
	rig_fini(&r);
}

struct probe {
	pthread_mutex_t lock;
	pthread_t tid;
	unsigned int runs;
	int fd;
};

static void probe_fn(void *opaque)
{
	struct probe *p = opaque;

	pthread_mutex_lock(&p->lock);
	p->tid = pthread_self();
	p->runs++;
	pthread_mutex_unlock(&p->lock);
}

static unsigned int probe_runs(struct probe *p)
{
	unsigned int n;

	pthread_mutex_lock(&p->lock);
	n = p->runs;
	pthread_mutex_unlock(&p->lock);
	return n;
}

static void probe_watch(void *opaque, uint32_t events)
{
	struct probe *p = opaque;

	(void)events;
	event_drain(p->fd);
	probe_fn(p);
}

static void test_defer_and_watch(void)
{
	struct rig r;
	struct probe p = { .lock = PTHREAD_MUTEX_INITIALIZER };
	unsigned int i;

	rig_init(&r, true);
	CHECK(echo_ok(&r.a, 0)); /* records the I/O thread */
	CHECK_EQ(virtio_defer(r.ea.vdev, probe_fn, &p), 0);
	for (i = 0; i < VH_TIMEOUT_MS && probe_runs(&p) < 1; i++)
		pause_ms(1);
	CHECK_EQ(probe_runs(&p), 1);
	CHECK(pthread_equal(p.tid, r.ea.tid));
	p.fd = event_new();
	CHECK(p.fd >= 0);
	CHECK_EQ(virtio_watch(r.ea.vdev, p.fd, EPOLLIN, probe_watch, &p), 0);
	event_signal(p.fd);
	for (i = 0; i < VH_TIMEOUT_MS && probe_runs(&p) < 2; i++)
		pause_ms(1);
	CHECK_EQ(probe_runs(&p), 2);
	CHECK(pthread_equal(p.tid, r.ea.tid));
	virtio_unwatch(r.ea.vdev, p.fd);
	close(p.fd);
	rig_fini(&r);
}

static void test_destroy_in_flight(void)
{
	struct vh_host *h = vh_host_new();
	struct echo e;
	struct vh_dev d;
	struct vh_buf out = { .data = "x", .len = 1 };
	uint32_t in = 4;

	echo_init(&e);
	e.vdev = vh_create(h, "echo0", &echo_ops, &e);
	CHECK_EQ(vh_dev_find(h, &d, ECHO_ID, 0), 0);
	CHECK_EQ(vh_dev_start(&d, ~0ull), 0);
	pthread_mutex_lock(&e.lock);
	e.hold = true;
	pthread_mutex_unlock(&e.lock);
	CHECK(vh_post(&d, 0, &out, 1, &in, 1) >= 0);
	vh_kick(&d, 0);
	CHECK(echo_wait(&e, &e.nr_held, 1));
	/* Teardown stops the thread and resets: nothing leaks (ASan). */
	vh_dev_free(&d);
	vh_host_free(h);
	CHECK_EQ(e.nr_held, 0);
	CHECK_EQ(e.resets, 1);
	pthread_mutex_destroy(&e.lock);
}

/* ---- hostile drivers ---- */

static void hostile_common_odd_widths(void)
{
	static const unsigned int widths[] = { 1, 2, 4, 8 };
	struct rig r;
	unsigned int off, w;

	rig_init(&r, true);
	fake_rng_seed(7);
	for (off = 0; off < 0x40; off++)
		for (w = 0; w < 4; w++)
			vh_common_read(&r.a, off, widths[w]);
	/*
	 * Every offset and width, with junk, twice: this resets, starts
	 * and breaks the device in every way the registers allow.
	 */
	for (off = 0; off < 2 * 0x40; off++)
		for (w = 0; w < 4; w++)
			vh_common_write(&r.a, off % 0x40, widths[w],
					(uint64_t)fake_rng() << 32 |
						fake_rng());
	/* Writes at odd widths or offsets did nothing. */
	CHECK_EQ(vh_reset(&r.a), 0);
	vh_common_write(&r.a, VIRTIO_PCI_COMMON_STATUS - 1, 2, 0x0f00);
	vh_common_write(&r.a, VIRTIO_PCI_COMMON_STATUS, 2, 0x000f);
	vh_common_write(&r.a, VIRTIO_PCI_COMMON_STATUS, 4, 0x0f);
	CHECK_EQ(vh_status(&r.a), 0);
	vh_common_write(&r.a, VIRTIO_PCI_COMMON_NUMQ, 2, 7);
	CHECK_EQ(vh_common_read(&r.a, VIRTIO_PCI_COMMON_NUMQ, 2), ECHO_QUEUES);
	vh_common_write(&r.a, VIRTIO_PCI_COMMON_DF, 4, 0);
	CHECK(vh_common_read(&r.a, VIRTIO_PCI_COMMON_DF, 4) != 0);
	/* Reads past the structure are 0, a read across its end too. */
	CHECK_EQ(vh_common_read(&r.a, 0x3c, 4), 0);
	CHECK_EQ(vh_common_read(&r.a, 0x100, 8), 0);
	rig_check(&r);
	rig_fini(&r);
}

static void hostile_device_cfg_odd_widths(void)
{
	static const unsigned int widths[] = { 1, 2, 4, 8 };
	struct rig r;
	unsigned int off, w;

	rig_init(&r, true);
	for (off = 0; off < ECHO_CFG + 16; off++) {
		for (w = 0; w < 4; w++) {
			uint64_t v = vh_cfg_read(&r.a, off, widths[w]);

			if (off + widths[w] > ECHO_CFG)
				CHECK_EQ(v, 0);
			vh_cfg_write(&r.a, off, widths[w], 0);
		}
	}
	/* In range writes landed, out of range ones did not crash. */
	CHECK_EQ(vh_cfg_read(&r.a, 0, 8), 0);
	/* The ISR, the notify area and the gaps take junk too. */
	for (off = 0; off < VIRTIO_PCI_BAR_SIZE; off += 0x7f9)
		for (w = 0; w < 4; w++)
			vh_mmio_write(r.h, r.a.bar + off, widths[w], ~0ull);
	rig_check(&r);
	rig_fini(&r);
}

static void hostile_notify_not_ready(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;

	rig_init(&r, false);
	/* Before any setup, for a queue that exists and one that does not. */
	vh_kick(d, 0);
	vh_kick(d, 1);
	vh_mmio_write(r.h, d->bar + d->notify + 4 * ECHO_QUEUES, 2, 0);
	vh_mmio_write(r.h, d->bar + d->notify + 2, 2, 0);
	vh_mmio_write(r.h, d->bar + d->notify + 0xffc, 4, 0);
	/* After DRIVER_OK, for a queue the driver left disabled. */
	begin(d);
	vh_msix_setup(d);
	CHECK_EQ(vh_queue_setup(d, 0, 0), 0);
	CHECK_EQ(vh_driver_ok(d), 0);
	vh_kick(d, 1);
	CHECK(echo_ok(d, 0)); /* also waits for the I/O thread's backlog */
	CHECK_EQ(echo_get(&r.ea, &r.ea.notifies), 1);
	CHECK(!needs_reset(d));
	rig_check(&r);
	rig_fini(&r);
}

static void hostile_queue_size(void)
{
	static const uint32_t bad[] = { 0, 3, 48, ECHO_QSIZE * 2, 0xffff };
	struct rig r;
	struct vh_dev *d = &r.a;
	unsigned int i;

	rig_init(&r, false);
	begin(d);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2, bad[i]);
		CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2), 32);
	}
	rig_check(&r);
	rig_fini(&r);
}

static void hostile_queue_select_out_of_range(void)
{
	static const uint16_t sel[] = { ECHO_QUEUES, 63, 64, 0xffff };
	struct rig r;
	struct vh_dev *d = &r.a;
	unsigned int i;

	rig_init(&r, false);
	begin(d);
	for (i = 0; i < sizeof(sel) / sizeof(sel[0]); i++) {
		vh_queue_write(d, sel[i], VIRTIO_PCI_COMMON_Q_SIZE, 2, 16);
		vh_queue_write(d, sel[i], VIRTIO_PCI_COMMON_Q_DESCLO, 8,
			       VH_RAM_GPA);
		vh_queue_write(d, sel[i], VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
		vh_queue_write(d, sel[i], VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
		CHECK_EQ(vh_queue_read(d, sel[i], VIRTIO_PCI_COMMON_Q_SIZE, 2),
			 0);
		CHECK_EQ(vh_queue_read(d, sel[i], VIRTIO_PCI_COMMON_Q_ENABLE,
				       2),
			 0);
		CHECK_EQ(vh_queue_read(d, sel[i], VIRTIO_PCI_COMMON_Q_MSIX, 2),
			 VIRTIO_MSI_NO_VECTOR);
		CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_Q_SELECT, 2),
			 sel[i]);
	}
	/* The real queues were not touched. */
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2), ECHO_QSIZE);
	CHECK_EQ(vh_queue_read(d, 1, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
	CHECK(!needs_reset(d));
	rig_check(&r);
	rig_fini(&r);
}

/* Queue 0 set up normally, then one ring moved to addr: DRIVER_OK fails. */
static void bad_ring(struct rig *r, uint32_t field, uint64_t addr)
{
	struct vh_dev *d = &r->a;
	unsigned int activates = echo_get(&r->ea, &r->ea.activates);

	begin(d);
	vh_msix_setup(d);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2, ECHO_QSIZE);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_DESCLO, 8, VH_RAM_GPA);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_AVAILLO, 8,
		       VH_RAM_GPA + 0x1000);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_USEDLO, 8,
		       VH_RAM_GPA + 0x2000);
	vh_queue_write(d, 0, field, 8, addr);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	CHECK_EQ(vh_driver_ok(d), -EIO);
	CHECK(needs_reset(d));
	CHECK_EQ(echo_get(&r->ea, &r->ea.activates), activates);
	vh_kick(d, 0);
	CHECK_EQ(vh_reset(d), 0);
}

static void hostile_rings_outside_ram(void)
{
	static const uint64_t addrs[] = {
		0x40000000ull, /* a hole between RAM regions */
		0xfee00000ull, /* the local APIC, in the MMIO hole */
		0xe0000000ull, /* ECAM */
		VH_RAM_TOP_GPA + VH_RAM_TOP_SIZE - 0x40, /* runs off RAM */
		VH_RAM_GPA + VH_RAM_SIZE - 8,
		0xfffffffffffff000ull, /* wraps */
		VH_RAM_GPA + 1, /* misaligned */
	};
	static const uint32_t fields[] = { VIRTIO_PCI_COMMON_Q_DESCLO,
					   VIRTIO_PCI_COMMON_Q_AVAILLO,
					   VIRTIO_PCI_COMMON_Q_USEDLO };
	struct rig r;
	unsigned int i, f;

	rig_init(&r, false);
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		for (f = 0; f < 3; f++)
			bad_ring(&r, fields[f], addrs[i]);
	rig_check(&r);
	rig_fini(&r);
}

static void hostile_dma_at_own_bar(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;
	struct vring_seg segs[2];
	uint32_t id, len;
	uint8_t status;

	rig_init(&r, false);
	/* Rings on the device's own registers. */
	bad_ring(&r, VIRTIO_PCI_COMMON_Q_DESCLO, d->bar);
	bad_ring(&r, VIRTIO_PCI_COMMON_Q_USEDLO,
		 d->bar + VIRTIO_PCI_COMMON_OFF);
	bad_ring(&r, VIRTIO_PCI_COMMON_Q_AVAILLO, r.b.bar);
	/* A buffer that points at the registers: the request fails. */
	CHECK_EQ(vh_dev_start(d, ~0ull), 0);
	segs[0] = (struct vring_seg){ .addr = d->bar, .len = 0x40 };
	segs[1] = (struct vring_seg){ .addr = d->bar + VIRTIO_PCI_COMMON_OFF +
					      VIRTIO_PCI_COMMON_STATUS,
				      .len = 1,
				      .write = true };
	CHECK(vh_post_raw(d, 0, segs, 2) >= 0);
	vh_kick(d, 0);
	CHECK_EQ(vh_wait_status(d, VIRTIO_STATUS_NEEDS_RESET), 0);
	CHECK(echo_get(&r.ea, &r.ea.pop_errors) >= 1);
	CHECK(!vh_poll_used(d, 0, &id, &len));
	/* The "DMA" did not write the status register. */
	status = vh_status(d);
	CHECK_EQ(status, 0x4f);
	/* A buffer running from RAM into the BAR: fails the same way. */
	CHECK_EQ(vh_dev_start(d, ~0ull), 0);
	segs[0] = (struct vring_seg){
		.addr = VH_RAM_TOP_GPA + VH_RAM_TOP_SIZE - 16, .len = 64
	};
	CHECK(vh_post_raw(d, 0, segs, 1) >= 0);
	vh_kick(d, 0);
	CHECK_EQ(vh_wait_status(d, VIRTIO_STATUS_NEEDS_RESET), 0);
	rig_check(&r);
	rig_fini(&r);
}

static void hostile_reset_storm(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;
	unsigned int i, k;

	rig_init(&r, true);
	for (i = 0; i < 20; i++) {
		pthread_mutex_lock(&r.ea.lock);
		r.ea.hold = i % 2;
		pthread_mutex_unlock(&r.ea.lock);
		for (k = 0; k < 4; k++) {
			struct vh_buf out = { .data = "abc", .len = 3 };
			uint32_t in = 3;

			vh_post(d, k % 2, &out, 1, &in, 1);
		}
		vh_kick(d, 0);
		vh_kick(d, 1);
		/* No wait: the reset races the I/O thread's work. */
		CHECK_EQ(vh_reset(d), 0);
		CHECK_EQ(echo_get(&r.ea, &r.ea.nr_held), 0);
		CHECK_EQ(vh_dev_start(d, ~0ull), 0);
	}
	pthread_mutex_lock(&r.ea.lock);
	r.ea.hold = false;
	pthread_mutex_unlock(&r.ea.lock);
	rig_check(&r);
	rig_fini(&r);
}

static void hostile_features_after_features_ok(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;

	rig_init(&r, false);
	begin(d);
	vh_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	vh_common_write(d, VIRTIO_PCI_COMMON_GF, 4, 1u << VIRTIO_F_EVENT_IDX);
	vh_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	vh_common_write(d, VIRTIO_PCI_COMMON_GF, 4, 0);
	CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_GF, 4), 1);
	vh_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_GF, 4), 0);
	/* Bits beyond 63: FEATURES_OK refused after a reset. */
	vh_msix_setup(d);
	CHECK_EQ(vh_queue_setup(d, 0, 0), 0);
	CHECK_EQ(vh_driver_ok(d), 0);
	CHECK_EQ(r.ea.features, 1ull << VIRTIO_F_VERSION_1);
	CHECK(echo_ok(d, 0));
	CHECK_EQ(vh_reset(d), 0);
	vh_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vh_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 5);
	vh_common_write(d, VIRTIO_PCI_COMMON_GF, 4, 1);
	CHECK_EQ(vh_negotiate(d, 1ull << VIRTIO_F_VERSION_1), -EIO);
	rig_check(&r);
	rig_fini(&r);
}

static void hostile_driver_ok_without_features_ok(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;

	rig_init(&r, false);
	CHECK_EQ(vh_reset(d), 0);
	vh_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vh_device_features(d);
	vh_msix_setup(d);
	CHECK_EQ(vh_queue_setup(d, 0, 0), 0);
	CHECK_EQ(vh_driver_ok(d), -EIO);
	CHECK(needs_reset(d));
	CHECK_EQ(echo_get(&r.ea, &r.ea.activates), 0);
	/* Features refused, then DRIVER_OK anyway: the same. */
	CHECK_EQ(vh_reset(d), 0);
	vh_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	CHECK_EQ(vh_negotiate(d, 1ull << ECHO_F_X), -EIO);
	CHECK_EQ(vh_driver_ok(d), -EIO);
	CHECK_EQ(echo_get(&r.ea, &r.ea.activates), 0);
	rig_check(&r);
	rig_fini(&r);
}

static void hostile_enable_address_zero(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;

	rig_init(&r, false);
	begin(d);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	CHECK(needs_reset(d));
	CHECK_EQ(vh_driver_ok(d), -EIO);
	CHECK_EQ(echo_get(&r.ea, &r.ea.activates), 0);
	/* Enable written with other values: ignored. */
	CHECK_EQ(vh_reset(d), 0);
	begin(d);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_DESCLO, 8, VH_RAM_GPA);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, VH_RAM_GPA);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_USEDLO, 8, VH_RAM_GPA);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 2);
	vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
	CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	CHECK(!needs_reset(d));
	rig_check(&r);
	rig_fini(&r);
}

static void hostile_bad_msix_vectors(void)
{
	static const uint16_t bad[] = { ECHO_QUEUES + 1, 0x7ff, 0x8000,
					0xfffe };
	struct rig r;
	struct vh_dev *d = &r.a;
	unsigned int i;

	rig_init(&r, false);
	begin(d);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vh_common_write(d, VIRTIO_PCI_COMMON_MSIX, 2, bad[i]);
		CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_MSIX, 2),
			 VIRTIO_MSI_NO_VECTOR);
		vh_queue_write(d, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2, bad[i]);
		CHECK_EQ(vh_queue_read(d, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2),
			 VIRTIO_MSI_NO_VECTOR);
	}
	vh_common_write(d, VIRTIO_PCI_COMMON_MSIX, 2, ECHO_QUEUES);
	CHECK_EQ(vh_common_read(d, VIRTIO_PCI_COMMON_MSIX, 2), ECHO_QUEUES);
	rig_check(&r);
	rig_fini(&r);
}

static void hostile_status_games(void)
{
	struct rig r;
	struct vh_dev *d = &r.a;

	rig_init(&r, true);
	/* Clearing bits without a reset: ignored. */
	vh_common_write(d, VIRTIO_PCI_COMMON_STATUS, 1,
			VIRTIO_STATUS_ACKNOWLEDGE);
	CHECK_EQ(vh_status(d), 0x0f);
	/* DRIVER_OK again: no second activate. */
	vh_common_write(d, VIRTIO_PCI_COMMON_STATUS, 1, 0x0f);
	CHECK_EQ(echo_get(&r.ea, &r.ea.activates), 1);
	/* The device's own bit cannot be set by the driver. */
	vh_common_write(d, VIRTIO_PCI_COMMON_STATUS, 1, 0x4f);
	CHECK(!needs_reset(d));
	CHECK(echo_ok(d, 0));
	/* Queue setup after DRIVER_OK: ignored. */
	vh_queue_write(d, 1, VIRTIO_PCI_COMMON_Q_SIZE, 2, 16);
	CHECK_EQ(vh_queue_read(d, 1, VIRTIO_PCI_COMMON_Q_SIZE, 2), ECHO_QSIZE);
	rig_check(&r);
	rig_fini(&r);
}

static void hostile_pci_cfg_window(void)
{
	static const struct {
		uint8_t bar;
		uint32_t off, len;
	} bad[] = {
		{ 1, 0, 4 },	      { 5, 0, 4 },
		{ 0xff, 0, 4 },	      { 0, 0, 3 },
		{ 0, 0, 8 },	      { 0, 0, 0 },
		{ 0, 2, 4 },	      { 0, VIRTIO_PCI_BAR_SIZE, 4 },
		{ 0, 0xfffffffc, 4 },
	};
	struct rig r;
	struct vh_dev *d = &r.a;
	unsigned int i, cap;

	rig_init(&r, true);
	cap = d->cap[VIRTIO_PCI_CAP_PCI_CFG];
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		window_read(d, bad[i].bar, bad[i].off, bad[i].len);
		window_write(d, bad[i].bar, bad[i].off, bad[i].len, 0);
	}
	/* Odd widths over the whole capability. */
	for (i = 0; i < VIRTIO_PCI_CFG_CAP_SIZE; i++) {
		vh_pci_read(r.h, d->slot, cap + i, 1);
		vh_pci_write(r.h, d->slot, cap + i, 1, 0);
		if (i % 2 == 0)
			vh_pci_read(r.h, d->slot, cap + i, 2);
	}
	/* The read-only parts stayed. */
	CHECK_EQ(vh_pci_read(r.h, d->slot, cap, 1), VIRTIO_PCI_CAP_ID);
	CHECK_EQ(vh_pci_read(r.h, d->slot, cap + VIRTIO_PCI_CAP_TYPE_OFF, 1),
		 VIRTIO_PCI_CAP_PCI_CFG);
	CHECK_EQ(vh_status(d), 0x0f);
	rig_check(&r);
	rig_fini(&r);
}

TEST_SUITE(virtio_pci, TEST_CASE(test_identity_and_caps),
	   TEST_CASE(test_features), TEST_CASE(test_status_machine),
	   TEST_CASE(test_queue_setup), TEST_CASE(test_notify_on_iothread),
	   TEST_CASE(test_early_kick), TEST_CASE(test_ioeventfd_follows_bar),
	   TEST_CASE(test_msix), TEST_CASE(test_intx),
	   TEST_CASE(test_reset_in_flight), TEST_CASE(test_needs_reset),
	   TEST_CASE(test_activate_failure), TEST_CASE(test_pci_cfg_window),
	   TEST_CASE(test_config_space), TEST_CASE(test_defer_and_watch),
	   TEST_CASE(test_destroy_in_flight),
	   TEST_CASE(hostile_common_odd_widths),
	   TEST_CASE(hostile_device_cfg_odd_widths),
	   TEST_CASE(hostile_notify_not_ready), TEST_CASE(hostile_queue_size),
	   TEST_CASE(hostile_queue_select_out_of_range),
	   TEST_CASE(hostile_rings_outside_ram),
	   TEST_CASE(hostile_dma_at_own_bar), TEST_CASE(hostile_reset_storm),
	   TEST_CASE(hostile_features_after_features_ok),
	   TEST_CASE(hostile_driver_ok_without_features_ok),
	   TEST_CASE(hostile_enable_address_zero),
	   TEST_CASE(hostile_bad_msix_vectors), TEST_CASE(hostile_status_games),
	   TEST_CASE(hostile_pci_cfg_window));
