// SPDX-License-Identifier: MIT
/*
 * virtio-net (src/virtio/net.c) behind the PCI transport, driven by the
 * fake driver of tests/unit/virtio_harness.h, on a fake backend that
 * records what the device sends and hands it frames to receive. The fake
 * backend lives on the device's I/O thread like a real one: the test
 * thread talks to it under its lock and wakes the device through an
 * eventfd the backend watches. Waits are bounded (VH_TIMEOUT_MS) only so a
 * broken device fails instead of hanging; nothing here measures time.
 *
 * Also: the device type realized from the configuration with the real
 * backends (user; tap when the test may create one).
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backends/net.h"
#include "config/config.h"
#include "unit/netframe.h"
#include "unit/test.h"
#include "unit/virtio_harness.h"
#include "util/log.h"
#include "util/loop.h"
#include "virtio/net.h"
#include "virtio/virtio_pci.h"

#define F(b) (1ull << (b))
#define FB_MAX_SENT 300
#define FB_MAX_RX 512

static const uint8_t test_mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };

/* ---- the fake backend ---- */

struct fakebe {
	struct netbe be; /* first */
	pthread_mutex_t lock;
	int ev; /* wakes the device's I/O thread */
	/* Under lock. */
	uint8_t *sent[FB_MAX_SENT];
	size_t sent_len[FB_MAX_SENT]; /* header included */
	unsigned int nr_sent, send_calls;
	uint8_t *rx[FB_MAX_RX]; /* header and frame */
	size_t rx_len[FB_MAX_RX];
	unsigned int rx_head, rx_n;
	bool blocked; /* send answers -EAGAIN */
	bool tx_wake;
	bool rx_on;
	unsigned int rx_off_calls, resets;
	uint32_t offloads;
	unsigned int set_offloads_calls;
};

static struct fakebe *fb(struct netbe *be)
{
	return (struct fakebe *)be;
}

static void fb_event(void *opaque, uint32_t events)
{
	struct fakebe *f = opaque;
	const struct net_port *port = f->be.port;
	bool wake, rx;

	(void)events;
	event_drain(f->ev);
	pthread_mutex_lock(&f->lock);
	wake = f->tx_wake;
	f->tx_wake = false;
	rx = f->rx_on && f->rx_n;
	pthread_mutex_unlock(&f->lock);
	if (wake)
		port->tx_ready(port->opaque);
	if (rx)
		port->rx_ready(port->opaque);
}

static int fb_attach(struct netbe *be, const struct net_port *port)
{
	be->port = port;
	return port->watch(port->opaque, fb(be)->ev, EPOLLIN, fb_event, be);
}

static int fb_send(struct netbe *be, const struct iovec *iov,
		   unsigned int iovcnt)
{
	struct fakebe *f = fb(be);
	size_t len = net_iov_len(iov, iovcnt);
	int r = 0;

	pthread_mutex_lock(&f->lock);
	f->send_calls++;
	if (f->blocked) {
		r = -EAGAIN;
	} else if (f->nr_sent < FB_MAX_SENT) {
		uint8_t *p = malloc(len);

		net_iov_to_buf(iov, iovcnt, 0, p, len);
		f->sent[f->nr_sent] = p;
		f->sent_len[f->nr_sent++] = len;
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

static ssize_t fb_recv(struct netbe *be, const struct iovec *iov,
		       unsigned int iovcnt)
{
	struct fakebe *f = fb(be);
	ssize_t r;

	pthread_mutex_lock(&f->lock);
	if (!f->rx_n) {
		pthread_mutex_unlock(&f->lock);
		return -EAGAIN;
	}
	r = (ssize_t)f->rx_len[f->rx_head];
	if (iov && net_iov_len(iov, iovcnt) < (size_t)r) {
		pthread_mutex_unlock(&f->lock);
		return -EMSGSIZE;
	}
	if (iov)
		net_buf_to_iov(iov, iovcnt, 0, f->rx[f->rx_head], (size_t)r);
	free(f->rx[f->rx_head]);
	f->rx_head = (f->rx_head + 1) % FB_MAX_RX;
	f->rx_n--;
	pthread_mutex_unlock(&f->lock);
	return r;
}

static ssize_t fb_peek(struct netbe *be)
{
	struct fakebe *f = fb(be);
	ssize_t r;

	pthread_mutex_lock(&f->lock);
	r = f->rx_n ? (ssize_t)f->rx_len[f->rx_head] : -EAGAIN;
	pthread_mutex_unlock(&f->lock);
	return r;
}

static void fb_rx_enable(struct netbe *be, bool on)
{
	struct fakebe *f = fb(be);
	bool wake;

	pthread_mutex_lock(&f->lock);
	f->rx_on = on;
	if (!on)
		f->rx_off_calls++;
	wake = on && f->rx_n;
	pthread_mutex_unlock(&f->lock);
	if (wake)
		event_signal(f->ev);
}

static int fb_set_offloads(struct netbe *be, uint32_t offloads)
{
	struct fakebe *f = fb(be);

	pthread_mutex_lock(&f->lock);
	f->offloads = offloads;
	f->set_offloads_calls++;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static void fb_reset(struct netbe *be)
{
	struct fakebe *f = fb(be);

	pthread_mutex_lock(&f->lock);
	while (f->rx_n) {
		free(f->rx[f->rx_head]);
		f->rx_head = (f->rx_head + 1) % FB_MAX_RX;
		f->rx_n--;
	}
	f->rx_on = false;
	f->tx_wake = false;
	f->resets++;
	pthread_mutex_unlock(&f->lock);
}

static void fb_destroy(struct netbe *be)
{
	struct fakebe *f = fb(be);
	unsigned int i;

	for (i = 0; i < f->nr_sent; i++)
		free(f->sent[i]);
	while (f->rx_n) {
		free(f->rx[f->rx_head]);
		f->rx_head = (f->rx_head + 1) % FB_MAX_RX;
		f->rx_n--;
	}
	close(f->ev);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static const struct netbe_ops fb_ops = {
	.attach = fb_attach,
	.send = fb_send,
	.recv = fb_recv,
	.peek = fb_peek,
	.rx_enable = fb_rx_enable,
	.set_offloads = fb_set_offloads,
	.reset = fb_reset,
	.destroy = fb_destroy,
};

static struct fakebe *fb_new(bool offloads, uint16_t mtu)
{
	struct fakebe *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->be = (struct netbe){
		.ops = &fb_ops,
		.kind = "fake",
		.offloads = offloads,
		.mtu = mtu,
	};
	pthread_mutex_init(&f->lock, NULL);
	f->ev = event_new();
	CHECK(f->ev >= 0);
	return f;
}

/* Queues a frame for the guest with header hdr (NULL: zero). */
static void fb_inject(struct fakebe *f, const void *frame, size_t len,
		      const struct virtio_net_hdr_v1 *hdr)
{
	struct virtio_net_hdr_v1 zero = { .flags = 0 };
	uint8_t *p = malloc(NET_HDR_LEN + len);

	memcpy(p, hdr ? hdr : &zero, NET_HDR_LEN);
	memcpy(p + NET_HDR_LEN, frame, len);
	pthread_mutex_lock(&f->lock);
	CHECK(f->rx_n < FB_MAX_RX);
	f->rx[(f->rx_head + f->rx_n) % FB_MAX_RX] = p;
	f->rx_len[(f->rx_head + f->rx_n) % FB_MAX_RX] = NET_HDR_LEN + len;
	f->rx_n++;
	pthread_mutex_unlock(&f->lock);
	event_signal(f->ev);
}

static void fb_set_blocked(struct fakebe *f, bool blocked)
{
	pthread_mutex_lock(&f->lock);
	f->blocked = blocked;
	if (!blocked)
		f->tx_wake = true;
	pthread_mutex_unlock(&f->lock);
	if (!blocked)
		event_signal(f->ev);
}

static unsigned int fb_get(struct fakebe *f, const unsigned int *field)
{
	unsigned int v;

	pthread_mutex_lock(&f->lock);
	v = *field;
	pthread_mutex_unlock(&f->lock);
	return v;
}

static void sleep_a_bit(void)
{
	struct timespec ts = { .tv_nsec = 1000000 };

	nanosleep(&ts, NULL);
}

/* Waits until *field >= want (under the fake's lock): bool. */
static bool fb_wait(struct fakebe *f, const unsigned int *field,
		    unsigned int want)
{
	uint64_t end = clock_ns() + VH_TIMEOUT_MS * 1000000ull;

	while (fb_get(f, field) < want) {
		if (clock_ns() > end)
			return false;
		sleep_a_bit();
	}
	return true;
}

/* ---- a rig: harness machine + device + fake backend ---- */

struct rig {
	struct vh_host *h;
	struct vh_dev d;
	struct virtio_net *n;
	struct fakebe *f;
};

static void rig_up(struct rig *r, bool offloads, uint16_t mtu)
{
	char err[256] = "";
	int rc;

	memset(r, 0, sizeof(*r));
	r->h = vh_host_new();
	r->f = fb_new(offloads, mtu);
	rc = virtio_net_new(&r->n, &r->h->vm.host, "virtio-net0", &r->f->be,
			    test_mac, err, sizeof(err));
	CHECK_EQ(rc, 0);
	if (rc)
		printf("  %s\n", err);
	CHECK_EQ(vh_dev_find(r->h, &r->d, VIRTIO_ID_NET, 0), 0);
}

static int rig_start(struct rig *r, uint64_t features)
{
	return vh_dev_start(&r->d, features);
}

static void rig_down(struct rig *r)
{
	vh_dev_free(&r->d);
	virtio_net_destroy(r->n);
	vh_host_free(r->h);
}

#define ALL_FEATURES (~0ull)
#define NO_MRG (~F(VIRTIO_NET_F_MRG_RXBUF))

static void make_frame(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
	if (len >= 14) {
		memcpy(p, test_mac, 6);
		memcpy(p + 6, "\x02\x00\x00\x00\x00\x01", 6);
		p[12] = 0x88;
		p[13] = 0xb5;
	}
}

/* Posts a tx chain: hdr then the frame split into nseg pieces. */
static int post_tx(struct rig *r, const struct virtio_net_hdr_v1 *hdr,
		   const uint8_t *frame, size_t len, unsigned int nseg)
{
	struct vh_buf b[9];
	unsigned int i, n = 0;
	size_t off = 0;

	b[n++] = (struct vh_buf){ .data = hdr, .len = NET_HDR_LEN };
	for (i = 0; i < nseg && i < 8; i++) {
		size_t piece = i == nseg - 1 ? len - off : len / nseg;

		b[n++] = (struct vh_buf){ .data = frame + off,
					  .len = (uint32_t)piece };
		off += piece;
	}
	return vh_post(&r->d, VIRTIO_NET_TXQ, b, n, NULL, 0);
}

static int post_rx(struct rig *r, uint32_t size)
{
	return vh_post(&r->d, VIRTIO_NET_RXQ, NULL, 0, &size, 1);
}

/* ---- tests ---- */

static void test_config_space(void)
{
	struct rig r;
	unsigned int i;

	rig_up(&r, false, 1500);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	for (i = 0; i < 6; i++)
		CHECK_EQ(vh_cfg_read(&r.d, VIRTIO_NET_CFG_MAC + i, 1),
			 test_mac[i]);
	CHECK_EQ(vh_cfg_read(&r.d, VIRTIO_NET_CFG_MAC, 4),
		 test_mac[0] | test_mac[1] << 8 | test_mac[2] << 16 |
			 (uint32_t)test_mac[3] << 24);
	CHECK_EQ(vh_cfg_read(&r.d, VIRTIO_NET_CFG_STATUS, 2),
		 VIRTIO_NET_S_LINK_UP);
	CHECK_EQ(vh_cfg_read(&r.d, VIRTIO_NET_CFG_MAX_PAIRS, 2), 1);
	CHECK_EQ(vh_cfg_read(&r.d, VIRTIO_NET_CFG_MTU, 2), 1500);
	CHECK_EQ(vh_cfg_read(&r.d, VIRTIO_NET_CFG_MTU + 1, 1), 1500 >> 8);
	/* Writes are ignored: the space is read-only. */
	vh_cfg_write(&r.d, VIRTIO_NET_CFG_MAC, 4, 0);
	CHECK_EQ(vh_cfg_read(&r.d, VIRTIO_NET_CFG_MAC, 1), test_mac[0]);

	/* Link down: status changes, with a configuration interrupt. */
	vh_msix_count(&r.d, VIRTIO_NET_NR_QUEUES);
	virtio_net_set_link(r.n, false);
	CHECK_EQ(vh_cfg_read(&r.d, VIRTIO_NET_CFG_STATUS, 2), 0);
	CHECK_EQ(vh_wait_msix(&r.d, VIRTIO_NET_NR_QUEUES), 0);
	virtio_net_set_link(r.n, true);
	CHECK_EQ(vh_cfg_read(&r.d, VIRTIO_NET_CFG_STATUS, 2),
		 VIRTIO_NET_S_LINK_UP);
	rig_down(&r);
}

static void test_features_plain_backend(void)
{
	struct rig r;
	uint64_t f;

	rig_up(&r, false, 0);
	f = vh_device_features(&r.d);
	CHECK(f & F(VIRTIO_F_VERSION_1));
	CHECK(f & F(VIRTIO_NET_F_MAC));
	CHECK(f & F(VIRTIO_NET_F_STATUS));
	CHECK(f & F(VIRTIO_NET_F_MRG_RXBUF));
	CHECK(f & F(VIRTIO_F_EVENT_IDX));
	CHECK(f & F(VIRTIO_F_INDIRECT_DESC));
	CHECK(!(f & F(VIRTIO_NET_F_MTU))); /* the backend has none */
	CHECK(!(f & F(VIRTIO_NET_F_CSUM)));
	CHECK(!(f & F(VIRTIO_NET_F_GUEST_CSUM)));
	CHECK(!(f & F(VIRTIO_NET_F_HOST_TSO4)));
	CHECK(!(f & F(VIRTIO_NET_F_GUEST_TSO4)));
	CHECK(!(f & F(VIRTIO_NET_F_CTRL_VQ)));
	CHECK_EQ(vh_common_read(&r.d, VIRTIO_PCI_COMMON_NUMQ, 2), 2);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	/* No offloads to set on a backend without them. */
	CHECK_EQ(fb_get(r.f, &r.f->set_offloads_calls), 0);
	rig_down(&r);
}

static void test_features_offload_backend(void)
{
	struct rig r;
	uint64_t f,
		off = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |
		      F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) |
		      F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_GUEST_TSO4) |
		      F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN);

	rig_up(&r, true, 1500);
	f = vh_device_features(&r.d);
	CHECK_EQ(f & off, off);
	CHECK(f & F(VIRTIO_NET_F_MTU));
	CHECK(!(f & F(VIRTIO_NET_F_GUEST_UFO)));
	CHECK(!(f & F(VIRTIO_NET_F_HOST_UFO)));
	/* The guest's offloads reach the backend at DRIVER_OK. */
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	pthread_mutex_lock(&r.f->lock);
	CHECK_EQ(r.f->offloads, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 |
					NET_OFFLOAD_TSO6 | NET_OFFLOAD_ECN);
	pthread_mutex_unlock(&r.f->lock);
	/* TSO without GUEST_CSUM means nothing. */
	CHECK_EQ(rig_start(&r, ALL_FEATURES & ~F(VIRTIO_NET_F_GUEST_CSUM)), 0);
	pthread_mutex_lock(&r.f->lock);
	CHECK_EQ(r.f->offloads, 0);
	pthread_mutex_unlock(&r.f->lock);
	rig_down(&r);
}

/* A frame posted as header + 3 pieces reaches the backend byte for byte. */
static void test_tx_byte_for_byte(void)
{
	struct virtio_net_hdr_v1 hdr = { .flags = 0 };
	uint8_t frame[1514];
	struct rig r;
	uint32_t id, len;
	int head;

	rig_up(&r, false, 1500);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	make_frame(frame, sizeof(frame), 1);
	head = post_tx(&r, &hdr, frame, sizeof(frame), 3);
	CHECK(head >= 0);
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len), 0);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	CHECK_EQ(vh_wait_msix(&r.d, VIRTIO_NET_TXQ), 0);
	pthread_mutex_lock(&r.f->lock);
	CHECK_EQ(r.f->nr_sent, 1);
	if (r.f->nr_sent == 1) {
		CHECK_EQ(r.f->sent_len[0], NET_HDR_LEN + sizeof(frame));
		CHECK(!memcmp(r.f->sent[0], &hdr, NET_HDR_LEN));
		CHECK(!memcmp(r.f->sent[0] + NET_HDR_LEN, frame,
			      sizeof(frame)));
	}
	pthread_mutex_unlock(&r.f->lock);
	CHECK_EQ(virtio_net_stats(r.n)->tx_frames, 1);
	CHECK_EQ(virtio_net_stats(r.n)->tx_bytes, sizeof(frame));
	rig_down(&r);
}

/* Many frames and one kick: all go, in order. */
static void test_tx_batch(void)
{
	struct virtio_net_hdr_v1 hdr = { .flags = 0 };
	uint8_t frame[200];
	struct rig r;
	uint32_t id, len;
	unsigned int i;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	for (i = 0; i < 120; i++) { /* 2 descriptors each */
		make_frame(frame, sizeof(frame), (uint8_t)i);
		CHECK(post_tx(&r, &hdr, frame, 60 + i % 140, 1) >= 0);
	}
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	for (i = 0; i < 120; i++)
		if (vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len))
			break;
	CHECK_EQ(i, 120);
	pthread_mutex_lock(&r.f->lock);
	CHECK_EQ(r.f->nr_sent, 120);
	for (i = 0; i < r.f->nr_sent; i++) {
		make_frame(frame, sizeof(frame), (uint8_t)i);
		CHECK_EQ(r.f->sent_len[i], NET_HDR_LEN + 60 + i % 140);
		CHECK(!memcmp(r.f->sent[i] + NET_HDR_LEN, frame, 60 + i % 140));
	}
	pthread_mutex_unlock(&r.f->lock);
	rig_down(&r);
}

/* The guest's header, sanitised: unknown flags off, offloads checked. */
static void test_tx_offload_headers(void)
{
	struct virtio_net_hdr_v1 hdr = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM | 0x80,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = htole16(54),
		.gso_size = htole16(1448),
		.csum_start = htole16(34),
		.csum_offset = htole16(16),
		.num_buffers = htole16(77),
	};
	struct virtio_net_hdr_v1 got;
	uint8_t frame[3000];
	struct rig r;
	uint32_t id, len;

	rig_up(&r, true, 1500);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	make_frame(frame, sizeof(frame), 3);
	CHECK(post_tx(&r, &hdr, frame, sizeof(frame), 2) >= 0);
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len), 0);
	pthread_mutex_lock(&r.f->lock);
	CHECK_EQ(r.f->nr_sent, 1);
	memcpy(&got, r.f->sent[0], sizeof(got));
	pthread_mutex_unlock(&r.f->lock);
	CHECK_EQ(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(got.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ(le16toh(got.gso_size), 1448);
	CHECK_EQ(le16toh(got.csum_start), 34);
	CHECK_EQ(le16toh(got.csum_offset), 16);
	CHECK_EQ(got.num_buffers, 0);

	/* HOST_TSO4 not negotiated: a TSO4 frame is dropped. */
	CHECK_EQ(rig_start(&r, ALL_FEATURES & ~F(VIRTIO_NET_F_HOST_TSO4)), 0);
	CHECK(post_tx(&r, &hdr, frame, sizeof(frame), 1) >= 0);
	hdr.gso_type = VIRTIO_NET_HDR_GSO_UDP; /* never offered */
	CHECK(post_tx(&r, &hdr, frame, sizeof(frame), 1) >= 0);
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len), 0);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len), 0);
	CHECK_EQ(fb_get(r.f, &r.f->nr_sent), 1);
	CHECK_EQ(virtio_net_stats(r.n)->tx_dropped, 2);
	CHECK_EQ(vh_status(&r.d) & VIRTIO_STATUS_NEEDS_RESET, 0);
	rig_down(&r);
}

/* Without offloads a header asking for GSO is dropped; flags cleared. */
static void test_tx_no_offloads(void)
{
	struct virtio_net_hdr_v1 hdr = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					 .csum_start = 20 };
	uint8_t frame[100], zero[NET_HDR_LEN] = { 0 };
	struct rig r;
	uint32_t id, len;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	make_frame(frame, sizeof(frame), 9);
	CHECK(post_tx(&r, &hdr, frame, sizeof(frame), 1) >= 0);
	hdr.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	CHECK(post_tx(&r, &hdr, frame, sizeof(frame), 1) >= 0);
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len), 0);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len), 0);
	pthread_mutex_lock(&r.f->lock);
	CHECK_EQ(r.f->nr_sent, 1);
	if (r.f->nr_sent)
		CHECK(!memcmp(r.f->sent[0], zero, NET_HDR_LEN));
	pthread_mutex_unlock(&r.f->lock);
	CHECK_EQ(virtio_net_stats(r.n)->tx_dropped, 1);
	rig_down(&r);
}

/* Too short, too long: dropped and counted; the device goes on. */
static void test_tx_bad_sizes(void)
{
	struct virtio_net_hdr_v1 hdr = { .flags = 0 };
	static uint8_t big[NET_MAX_FRAME + 1];
	uint8_t frame[64];
	struct rig r;
	uint32_t id, len;
	unsigned int i;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	make_frame(frame, sizeof(frame), 4);
	CHECK(post_tx(&r, &hdr, frame, 0 + 1, 1) >= 0); /* 1 byte */
	CHECK(post_tx(&r, &hdr, frame, NET_ETH_HLEN - 1, 1) >= 0);
	CHECK(post_tx(&r, &hdr, big, sizeof(big), 4) >= 0);
	CHECK(post_tx(&r, &hdr, frame, sizeof(frame), 1) >= 0); /* fine */
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	for (i = 0; i < 4; i++)
		CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len), 0);
	CHECK_EQ(fb_get(r.f, &r.f->nr_sent), 1);
	CHECK_EQ(virtio_net_stats(r.n)->tx_dropped, 3);
	CHECK_EQ(vh_status(&r.d) & VIRTIO_STATUS_NEEDS_RESET, 0);
	rig_down(&r);
}

/* No room for the header, or no readable part: NEEDS_RESET; reset heals. */
static void test_tx_broken_chain(void)
{
	struct virtio_net_hdr_v1 hdr = { .flags = 0 };
	uint8_t frame[64];
	struct vh_buf b = { .data = frame, .len = 8 };
	uint32_t in = 100, id, len;
	struct rig r;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	CHECK(vh_post(&r.d, VIRTIO_NET_TXQ, &b, 1, NULL, 0) >= 0);
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	CHECK_EQ(vh_wait_status(&r.d, VIRTIO_STATUS_NEEDS_RESET), 0);
	CHECK_EQ(virtio_net_stats(r.n)->tx_bad_chains, 1);

	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	CHECK(vh_post(&r.d, VIRTIO_NET_TXQ, NULL, 0, &in, 1) >= 0);
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	CHECK_EQ(vh_wait_status(&r.d, VIRTIO_STATUS_NEEDS_RESET), 0);

	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	make_frame(frame, sizeof(frame), 5);
	CHECK(post_tx(&r, &hdr, frame, sizeof(frame), 1) >= 0);
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len), 0);
	CHECK_EQ(fb_get(r.f, &r.f->nr_sent), 1);
	rig_down(&r);
}

/* The backend is full: the chain waits, then goes when it has room. */
static void test_tx_backend_full(void)
{
	struct virtio_net_hdr_v1 hdr = { .flags = 0 };
	uint8_t frame[100];
	struct rig r;
	uint32_t id, len;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	fb_set_blocked(r.f, true);
	make_frame(frame, sizeof(frame), 6);
	CHECK(post_tx(&r, &hdr, frame, sizeof(frame), 1) >= 0);
	CHECK(post_tx(&r, &hdr, frame, sizeof(frame) - 1, 1) >= 0);
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	CHECK(fb_wait(r.f, &r.f->send_calls, 1));
	/* Kicks while blocked do not retry or lose anything. */
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	CHECK(!vh_poll_used(&r.d, VIRTIO_NET_TXQ, &id, &len));
	CHECK_EQ(fb_get(r.f, &r.f->nr_sent), 0);
	fb_set_blocked(r.f, false);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len), 0);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len), 0);
	pthread_mutex_lock(&r.f->lock);
	CHECK_EQ(r.f->nr_sent, 2);
	CHECK_EQ(r.f->sent_len[0], NET_HDR_LEN + sizeof(frame));
	CHECK_EQ(r.f->sent_len[1], NET_HDR_LEN + sizeof(frame) - 1);
	pthread_mutex_unlock(&r.f->lock);
	rig_down(&r);
}

/* Checks the frame in rx chain head: header fields and bytes. */
static void check_rx(struct rig *r, int head, uint32_t len,
		     const uint8_t *frame, size_t flen, uint16_t nbufs)
{
	struct virtio_net_hdr_v1 hdr;
	uint8_t *got = malloc(flen);

	CHECK_EQ(len, NET_HDR_LEN + flen);
	CHECK_EQ(vh_read_in(&r->d, VIRTIO_NET_RXQ, head, 0, &hdr, NET_HDR_LEN),
		 NET_HDR_LEN);
	CHECK_EQ(le16toh(hdr.num_buffers), nbufs);
	CHECK_EQ(vh_read_in(&r->d, VIRTIO_NET_RXQ, head, NET_HDR_LEN, got,
			    flen),
		 flen);
	CHECK(!memcmp(got, frame, flen));
	free(got);
}

static uint16_t rx_nbufs(struct rig *r, int head)
{
	struct virtio_net_hdr_v1 hdr = { .flags = 0 };

	vh_read_in(&r->d, VIRTIO_NET_RXQ, head, 0, &hdr, sizeof(hdr));
	return le16toh(hdr.num_buffers);
}

static void test_rx_single(void)
{
	uint8_t frame[1514];
	struct rig r;
	uint32_t id, len;
	int head;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	head = post_rx(&r, NET_HDR_LEN + 1518);
	CHECK(head >= 0);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	make_frame(frame, sizeof(frame), 7);
	fb_inject(r.f, frame, sizeof(frame), NULL);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len), 0);
	CHECK_EQ(id, head);
	check_rx(&r, head, len, frame, sizeof(frame), 1);
	CHECK_EQ(vh_wait_msix(&r.d, VIRTIO_NET_RXQ), 0);
	CHECK_EQ(virtio_net_stats(r.n)->rx_frames, 1);
	CHECK_EQ(virtio_net_stats(r.n)->rx_bytes, sizeof(frame));
	rig_down(&r);
}

/* The backend's header reaches the guest; num_buffers is the device's. */
static void test_rx_header_passthrough(void)
{
	struct virtio_net_hdr_v1 in = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
		.gso_size = htole16(1440),
		.csum_start = htole16(54),
		.csum_offset = htole16(16),
		.num_buffers = htole16(999),
	},
				 out;
	uint8_t frame[4000];
	struct rig r;
	uint32_t id, len;
	int head;

	rig_up(&r, true, 1500);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	head = post_rx(&r, NET_HDR_LEN + NET_MAX_FRAME);
	CHECK(head >= 0);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	make_frame(frame, sizeof(frame), 8);
	fb_inject(r.f, frame, sizeof(frame), &in);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len), 0);
	CHECK_EQ(id, head);
	check_rx(&r, head, len, frame, sizeof(frame), 1);
	vh_read_in(&r.d, VIRTIO_NET_RXQ, head, 0, &out, sizeof(out));
	CHECK_EQ(out.flags, in.flags);
	CHECK_EQ(out.gso_type, in.gso_type);
	CHECK_EQ(out.gso_size, in.gso_size);
	CHECK_EQ(out.csum_start, in.csum_start);
	rig_down(&r);
}

/* MRG_RXBUF: a frame over several small buffers, num_buffers counted. */
static void test_rx_mergeable(void)
{
	uint8_t frame[1000], got[1000];
	int heads[8];
	struct rig r;
	uint32_t id, len, total = 0;
	unsigned int i;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	for (i = 0; i < 8; i++) {
		heads[i] = post_rx(&r, 256);
		CHECK(heads[i] >= 0);
	}
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	make_frame(frame, sizeof(frame), 10);
	fb_inject(r.f, frame, sizeof(frame), NULL);
	/* 12 + 1000 bytes: 256 + 256 + 256 + 244, in ring order. */
	for (i = 0; i < 4; i++) {
		CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len), 0);
		CHECK_EQ(id, heads[i]);
		CHECK_EQ(len, i < 3 ? 256 : 244);
		total += len;
	}
	CHECK_EQ(total, NET_HDR_LEN + sizeof(frame));
	CHECK_EQ(rx_nbufs(&r, heads[0]), 4);
	vh_read_in(&r.d, VIRTIO_NET_RXQ, heads[0], NET_HDR_LEN, got, 244);
	for (i = 1; i < 4; i++)
		vh_read_in(&r.d, VIRTIO_NET_RXQ, heads[i], 0,
			   got + 244 + 256 * (i - 1), i < 3 ? 256 : 244);
	CHECK(!memcmp(got, frame, sizeof(frame)));
	/* The next frame starts in the next buffer. */
	make_frame(frame, 100, 11);
	fb_inject(r.f, frame, 100, NULL);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len), 0);
	CHECK_EQ(id, heads[4]);
	check_rx(&r, heads[4], len, frame, 100, 1);
	rig_down(&r);
}

/* Without MRG_RXBUF: one chain per frame; a frame too big is dropped. */
static void test_rx_no_mergeable(void)
{
	uint8_t frame[1514];
	uint32_t sizes[2] = { NET_HDR_LEN, 600 }; /* header apart, as legacy */
	struct rig r;
	uint32_t id, len;
	int head;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, NO_MRG), 0);
	CHECK(!(r.d.features & F(VIRTIO_NET_F_MRG_RXBUF)));
	head = vh_post(&r.d, VIRTIO_NET_RXQ, NULL, 0, sizes, 2);
	CHECK(head >= 0);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	make_frame(frame, sizeof(frame), 12);
	fb_inject(r.f, frame, sizeof(frame), NULL); /* > 600: dropped */
	fb_inject(r.f, frame, 500, NULL);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len), 0);
	CHECK_EQ(id, head);
	check_rx(&r, head, len, frame, 500, 1);
	CHECK_EQ(virtio_net_stats(r.n)->rx_dropped, 1);
	CHECK_EQ(virtio_net_stats(r.n)->rx_frames, 1);
	rig_down(&r);
}

/* No buffers: the device stops reading the backend, then catches up. */
static void test_rx_backpressure(void)
{
	uint8_t frame[3][300];
	int heads[3];
	struct rig r;
	uint32_t id, len;
	unsigned int i;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	for (i = 0; i < 3; i++) {
		make_frame(frame[i], sizeof(frame[i]), (uint8_t)(20 + i));
		fb_inject(r.f, frame[i], sizeof(frame[i]), NULL);
	}
	/* The device found no buffers and stopped rx. */
	CHECK(fb_wait(r.f, &r.f->rx_off_calls, 1));
	CHECK_EQ(fb_get(r.f, &r.f->rx_n), 3);
	CHECK(!vh_poll_used(&r.d, VIRTIO_NET_RXQ, &id, &len));
	vring_need_kick(&r.d.q[VIRTIO_NET_RXQ].vr);
	for (i = 0; i < 3; i++) {
		heads[i] = post_rx(&r, 1600);
		CHECK(heads[i] >= 0);
	}
	/* It asked to be kicked when buffers come. */
	CHECK(vring_need_kick(&r.d.q[VIRTIO_NET_RXQ].vr));
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len), 0);
		CHECK_EQ(id, heads[i]);
		check_rx(&r, heads[i], len, frame[i], sizeof(frame[i]), 1);
	}
	CHECK_EQ(fb_get(r.f, &r.f->rx_n), 0);
	rig_down(&r);
}

/* MRG_RXBUF: too few buffers for a frame: wait for more, then deliver. */
static void test_rx_mergeable_waits_for_room(void)
{
	uint8_t frame[1000];
	int heads[5];
	struct rig r;
	uint32_t id, len;
	unsigned int i;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	for (i = 0; i < 2; i++)
		heads[i] = post_rx(&r, 256);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	make_frame(frame, sizeof(frame), 30);
	fb_inject(r.f, frame, sizeof(frame), NULL);
	CHECK(fb_wait(r.f, &r.f->rx_off_calls, 1));
	CHECK(!vh_poll_used(&r.d, VIRTIO_NET_RXQ, &id, &len));
	for (i = 2; i < 5; i++)
		heads[i] = post_rx(&r, 256);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len), 0);
		CHECK_EQ(id, heads[i]);
	}
	CHECK_EQ(rx_nbufs(&r, heads[0]), 4);
	CHECK_EQ(virtio_net_stats(r.n)->rx_dropped, 0);
	rig_down(&r);
}

/* A frame larger than the whole (small) queue can hold is dropped. */
static void test_rx_frame_larger_than_queue(void)
{
	uint8_t frame[1000];
	struct rig r;
	uint32_t id, len;
	unsigned int i;

	rig_up(&r, false, 0);
	CHECK_EQ(vh_reset(&r.d), 0);
	vh_set_status(&r.d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	CHECK_EQ(vh_negotiate(&r.d, vh_device_features(&r.d)), 0);
	vh_msix_setup(&r.d);
	CHECK_EQ(vh_queue_setup(&r.d, VIRTIO_NET_RXQ, 4), 0);
	CHECK_EQ(vh_queue_setup(&r.d, VIRTIO_NET_TXQ, 0), 0);
	CHECK_EQ(vh_driver_ok(&r.d), 0);
	for (i = 0; i < 4; i++)
		CHECK(post_rx(&r, 64) >= 0);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	make_frame(frame, sizeof(frame), 40);
	fb_inject(r.f, frame, sizeof(frame), NULL); /* 4 x 64 < 1012 */
	fb_inject(r.f, frame, 100, NULL); /* 112: two buffers */
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len), 0);
	CHECK_EQ(len, 64);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len), 0);
	CHECK_EQ(len, 48);
	CHECK_EQ(virtio_net_stats(r.n)->rx_dropped, 1);
	rig_down(&r);
}

/* Receive buffers the device cannot use: NEEDS_RESET. */
static void test_rx_broken_buffers(void)
{
	uint8_t junk[64] = { 0 };
	struct vh_buf b = { .data = junk, .len = sizeof(junk) };
	uint32_t in = 100, id, len;
	struct rig r;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	/* Device-readable receive buffer. */
	CHECK(vh_post(&r.d, VIRTIO_NET_RXQ, &b, 1, &in, 1) >= 0);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	CHECK_EQ(vh_wait_status(&r.d, VIRTIO_STATUS_NEEDS_RESET), 0);
	/* Smaller than the header. */
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	in = NET_HDR_LEN - 1;
	CHECK(post_rx(&r, in) >= 0);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	CHECK_EQ(vh_wait_status(&r.d, VIRTIO_STATUS_NEEDS_RESET), 0);
	/* After a reset all is well. */
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	CHECK(post_rx(&r, 1600) >= 0);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	fb_inject(r.f, junk, sizeof(junk), NULL);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len), 0);
	CHECK_EQ(len, NET_HDR_LEN + sizeof(junk));
	rig_down(&r);
}

/* Reset: held buffers are dropped unused, the backend reset; then fine. */
static void test_reset(void)
{
	struct virtio_net_hdr_v1 hdr = { .flags = 0 };
	uint8_t frame[200];
	struct rig r;
	uint32_t id, len;
	unsigned int i;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	for (i = 0; i < 8; i++)
		CHECK(post_rx(&r, 256) >= 0);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	fb_set_blocked(r.f, true);
	make_frame(frame, sizeof(frame), 50);
	CHECK(post_tx(&r, &hdr, frame, sizeof(frame), 1) >= 0);
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	CHECK(fb_wait(r.f, &r.f->send_calls, 1));
	CHECK_EQ(vh_reset(&r.d), 0);
	CHECK(fb_get(r.f, &r.f->resets) >= 1);
	/* Nothing was used, before or after. */
	CHECK_EQ(vring_used_idx(&r.d.q[VIRTIO_NET_RXQ].vr), 0);
	CHECK_EQ(vring_used_idx(&r.d.q[VIRTIO_NET_TXQ].vr), 0);
	/* Frames and the blocked state do not outlive the reset. */
	fb_set_blocked(r.f, false);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	CHECK(post_tx(&r, &hdr, frame, sizeof(frame), 1) >= 0);
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len), 0);
	CHECK_EQ(fb_get(r.f, &r.f->nr_sent), 1);
	CHECK(post_rx(&r, 1600) >= 0);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	fb_inject(r.f, frame, sizeof(frame), NULL);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len), 0);
	CHECK_EQ(len, NET_HDR_LEN + sizeof(frame));
	rig_down(&r);
}

/* Many frames both ways at once, more than one batch. */
static void test_bulk_both_ways(void)
{
	struct virtio_net_hdr_v1 hdr = { .flags = 0 };
	uint8_t frame[600];
	struct rig r;
	uint32_t id, len;
	unsigned int i, got = 0, sent = 0;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	for (i = 0; i < 200; i++)
		CHECK(post_rx(&r, 1600) >= 0);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	for (i = 0; i < 60; i++) {
		make_frame(frame, sizeof(frame), (uint8_t)i);
		fb_inject(r.f, frame, 60 + i * 9, NULL);
		CHECK(post_tx(&r, &hdr, frame, 60 + i, 2) >= 0);
		if (i % 10 == 9)
			vh_kick(&r.d, VIRTIO_NET_TXQ);
	}
	while (got < 60 || sent < 60) {
		if (got < 60) {
			int head;

			if (vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len)) {
				CHECK(!"rx timed out");
				break;
			}
			head = (int)id;
			make_frame(frame, sizeof(frame), (uint8_t)got);
			check_rx(&r, head, len, frame, 60 + got * 9, 1);
			got++;
		}
		if (sent < 60) {
			if (vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len)) {
				CHECK(!"tx timed out");
				break;
			}
			sent++;
		}
	}
	CHECK_EQ(fb_get(r.f, &r.f->nr_sent), 60);
	rig_down(&r);
}

/* More than one batch each way: the device yields and comes back. */
static void test_more_than_a_batch(void)
{
	static uint8_t buf[NET_HDR_LEN + 64];
	struct vh_buf b = { .data = buf, .len = sizeof(buf) };
	struct rig r;
	uint32_t id, len;
	unsigned int i, n;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	/* A full ring of one-descriptor chains, one kick. */
	for (i = 0; i < VIRTIO_NET_QUEUE_SIZE; i++) {
		make_frame(buf + NET_HDR_LEN, 64, (uint8_t)i);
		CHECK(vh_post(&r.d, VIRTIO_NET_TXQ, &b, 1, NULL, 0) >= 0);
	}
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	for (n = 0; n < VIRTIO_NET_QUEUE_SIZE; n++)
		if (vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len))
			break;
	CHECK_EQ(n, VIRTIO_NET_QUEUE_SIZE);
	pthread_mutex_lock(&r.f->lock);
	CHECK_EQ(r.f->nr_sent, VIRTIO_NET_QUEUE_SIZE);
	make_frame(buf + NET_HDR_LEN, 64, (uint8_t)(VIRTIO_NET_QUEUE_SIZE - 1));
	if (r.f->nr_sent == VIRTIO_NET_QUEUE_SIZE)
		CHECK(!memcmp(r.f->sent[VIRTIO_NET_QUEUE_SIZE - 1], buf,
			      sizeof(buf)));
	pthread_mutex_unlock(&r.f->lock);

	/* 300 frames for 256 buffers: 256 now, the rest on more buffers. */
	for (i = 0; i < VIRTIO_NET_QUEUE_SIZE; i++)
		CHECK(post_rx(&r, 256) >= 0);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	for (i = 0; i < 300; i++) {
		make_frame(buf, 64, (uint8_t)i);
		fb_inject(r.f, buf, 64, NULL);
	}
	for (n = 0; n < VIRTIO_NET_QUEUE_SIZE; n++)
		if (vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len))
			break;
	CHECK_EQ(n, VIRTIO_NET_QUEUE_SIZE);
	CHECK(fb_wait(r.f, &r.f->rx_off_calls, 1));
	CHECK_EQ(fb_get(r.f, &r.f->rx_n), 300 - VIRTIO_NET_QUEUE_SIZE);
	for (i = 0; i < 44; i++)
		CHECK(post_rx(&r, 256) >= 0);
	vh_kick(&r.d, VIRTIO_NET_RXQ);
	for (n = 0; n < 44; n++) {
		if (vh_wait_used(&r.d, VIRTIO_NET_RXQ, &id, &len))
			break;
		make_frame(buf, 64, (uint8_t)(VIRTIO_NET_QUEUE_SIZE + n));
		check_rx(&r, (int)id, len, buf, 64, 1);
	}
	CHECK_EQ(n, 44);
	rig_down(&r);
}

/* A chain of more segments than one writev takes is copied first. */
static void test_tx_many_segments(void)
{
	static struct vring_seg segs[VIRTQ_MAX_SIZE];
	static uint8_t frame[3 * (VIRTQ_MAX_SIZE - 1)];
	struct vring *vr;
	struct rig r;
	uint32_t id, len;
	unsigned int i;
	int head;

	rig_up(&r, false, 0);
	CHECK_EQ(rig_start(&r, ALL_FEATURES), 0);
	CHECK(r.d.features & F(VIRTIO_F_INDIRECT_DESC));
	vr = &r.d.q[VIRTIO_NET_TXQ].vr;
	make_frame(frame, sizeof(frame), 60);
	segs[0] = (struct vring_seg){ .addr = vring_alloc(vr, NET_HDR_LEN),
				      .len = NET_HDR_LEN };
	memset(vh_ptr(r.h, segs[0].addr, NET_HDR_LEN), 0, NET_HDR_LEN);
	for (i = 1; i < VIRTQ_MAX_SIZE; i++) {
		segs[i] = (struct vring_seg){ .addr = vring_alloc(vr, 3),
					      .len = 3 };
		memcpy(vh_ptr(r.h, segs[i].addr, 3), frame + 3 * (i - 1), 3);
	}
	head = vring_post_indirect(vr, segs, VIRTQ_MAX_SIZE);
	CHECK(head >= 0);
	vh_kick(&r.d, VIRTIO_NET_TXQ);
	CHECK_EQ(vh_wait_used(&r.d, VIRTIO_NET_TXQ, &id, &len), 0);
	CHECK_EQ(id, head);
	pthread_mutex_lock(&r.f->lock);
	CHECK_EQ(r.f->nr_sent, 1);
	if (r.f->nr_sent == 1) {
		CHECK_EQ(r.f->sent_len[0], NET_HDR_LEN + sizeof(frame));
		CHECK(!memcmp(r.f->sent[0] + NET_HDR_LEN, frame,
			      sizeof(frame)));
	}
	pthread_mutex_unlock(&r.f->lock);
	rig_down(&r);
}

/* The type from the configuration, with the user backend. */
static void test_realize_user(void)
{
	struct vh_host *h = vh_host_new();
	struct vh_dev d;
	uint64_t f;

	h->vm.cfg.nr_nets = 1;
	h->vm.cfg.nets[0] = (struct net_config){ .backend = NET_USER };
	memcpy(h->vm.cfg.nets[0].mac, test_mac, 6);
	fake_vm_realize(&h->vm, &virtio_net_type);
	CHECK_EQ(vh_dev_find(h, &d, VIRTIO_ID_NET, 0), 0);
	f = vh_device_features(&d);
	CHECK(!(f & F(VIRTIO_NET_F_CSUM)));
	CHECK(!(f & F(VIRTIO_NET_F_GUEST_TSO4)));
	CHECK(f & F(VIRTIO_NET_F_MTU));
	CHECK_EQ(vh_dev_start(&d, ALL_FEATURES), 0);
	CHECK_EQ(vh_cfg_read(&d, VIRTIO_NET_CFG_MAC + 5, 1), test_mac[5]);
	CHECK_EQ(vh_cfg_read(&d, VIRTIO_NET_CFG_MTU, 2), 1500);
	vh_dev_free(&d);
	vh_host_free(h);
}

/*
 * The whole user-mode path: a DHCP DISCOVER through the transmit queue to
 * slirp, and its OFFER back through the receive queue.
 */
static void test_user_dhcp_through_device(void)
{
	struct vh_host *h = vh_host_new();
	struct virtio_net_hdr_v1 hdr = { .flags = 0 };
	struct vh_buf b[2];
	uint8_t f[1600];
	struct vh_dev d;
	uint32_t id, len;
	bool offer = false;
	unsigned int i;
	int head;

	h->vm.cfg.nr_nets = 1;
	h->vm.cfg.nets[0] = (struct net_config){ .backend = NET_USER };
	memcpy(h->vm.cfg.nets[0].mac, test_mac, 6);
	fake_vm_realize(&h->vm, &virtio_net_type);
	CHECK_EQ(vh_dev_find(h, &d, VIRTIO_ID_NET, 0), 0);
	CHECK_EQ(vh_dev_start(&d, ALL_FEATURES), 0);
	for (i = 0; i < 16; i++)
		CHECK(vh_post(&d, VIRTIO_NET_RXQ, NULL, 0,
			      &(uint32_t){ NET_HDR_LEN + 1518 }, 1) >= 0);
	vh_kick(&d, VIRTIO_NET_RXQ);
	b[0] = (struct vh_buf){ .data = &hdr, .len = NET_HDR_LEN };
	b[1] = (struct vh_buf){ .data = f,
				.len = (uint32_t)dhcp_discover(f, test_mac) };
	CHECK(vh_post(&d, VIRTIO_NET_TXQ, b, 2, NULL, 0) >= 0);
	vh_kick(&d, VIRTIO_NET_TXQ);
	CHECK_EQ(vh_wait_used(&d, VIRTIO_NET_TXQ, &id, &len), 0);
	/* slirp may say other things first (IPv6 router advertisements). */
	for (i = 0; i < 16 && !offer; i++) {
		if (vh_wait_used(&d, VIRTIO_NET_RXQ, &id, &len))
			break;
		head = (int)id;
		CHECK(len > NET_HDR_LEN && len <= sizeof(f));
		vh_read_in(&d, VIRTIO_NET_RXQ, head, 0, &hdr, NET_HDR_LEN);
		CHECK_EQ(le16toh(hdr.num_buffers), 1);
		vh_read_in(&d, VIRTIO_NET_RXQ, head, NET_HDR_LEN, f,
			   len - NET_HDR_LEN);
		offer = dhcp_is_offer(f, len - NET_HDR_LEN);
	}
	CHECK(offer);
	vh_dev_free(&d);
	vh_host_free(h);
}

/* The type with a tap backend: offloads offered and set at DRIVER_OK. */
static void test_realize_tap(void)
{
	struct vh_host *h = vh_host_new();
	void *state = calloc(1, virtio_net_type.state_size);
	struct vh_dev d;
	uint64_t f;
	int rc;

	h->vm.cfg.nr_nets = 1;
	h->vm.cfg.nets[0] = (struct net_config){ .backend = NET_TAP };
	snprintf((char *)h->vm.cfg.nets[0].tap, CONFIG_IFNAME_MAX, "micav%u",
		 (unsigned int)getpid() % 100000);
	rc = virtio_net_type.realize(state, &h->vm.host);
	if (rc == -EPERM || rc == -EACCES || rc == -ENOENT || rc == -ENODEV) {
		printf("  skipped: no tap devices here (%d)\n", rc);
		goto out;
	}
	CHECK_EQ(rc, 0);
	if (rc)
		goto out;
	CHECK_EQ(vh_dev_find(h, &d, VIRTIO_ID_NET, 0), 0);
	f = vh_device_features(&d);
	CHECK(f & F(VIRTIO_NET_F_CSUM));
	CHECK(f & F(VIRTIO_NET_F_GUEST_TSO4));
	CHECK(f & F(VIRTIO_NET_F_HOST_TSO6));
	CHECK(f & F(VIRTIO_NET_F_MTU));
	/* The kernel took the offloads (TUNSETOFFLOAD) or this fails. */
	CHECK_EQ(vh_dev_start(&d, ALL_FEATURES), 0);
	CHECK_EQ(vh_dev_start(&d, F(VIRTIO_NET_F_MAC)), 0);
	vh_dev_free(&d);
	virtio_net_type.unrealize(state);
out:
	free(state);
	vh_host_free(h);
}

/* A busy hostfwd port fails realize with -EADDRINUSE. */
static void test_realize_hostfwd_busy(void)
{
	struct vh_host *h = vh_host_new();
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	void *state = calloc(1, virtio_net_type.state_size);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(s >= 0);
	CHECK_EQ(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(listen(s, 1), 0);
	CHECK_EQ(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	h->vm.cfg.nr_nets = 2;
	h->vm.cfg.nets[0] = (struct net_config){ .backend = NET_USER };
	h->vm.cfg.nets[1] =
		(struct net_config){ .backend = NET_USER, .nr_hostfwd = 1 };
	h->vm.cfg.nets[1].hostfwd[0] =
		(struct net_hostfwd){ .host_port = ntohs(a.sin_port),
				      .guest_port = 22 };
	CHECK_EQ(virtio_net_type.realize(state, &h->vm.host), -EADDRINUSE);
	/* The first card was unplugged again. */
	CHECK_EQ(vh_pci_read(h, 1, 0, 4), 0xffffffff);
	free(state);
	close(s);
	vh_host_free(h);
}

TEST_SUITE(virtio_net, TEST_CASE(test_config_space),
	   TEST_CASE(test_features_plain_backend),
	   TEST_CASE(test_features_offload_backend),
	   TEST_CASE(test_tx_byte_for_byte), TEST_CASE(test_tx_batch),
	   TEST_CASE(test_tx_offload_headers), TEST_CASE(test_tx_no_offloads),
	   TEST_CASE(test_tx_bad_sizes), TEST_CASE(test_tx_broken_chain),
	   TEST_CASE(test_tx_backend_full), TEST_CASE(test_rx_single),
	   TEST_CASE(test_rx_header_passthrough), TEST_CASE(test_rx_mergeable),
	   TEST_CASE(test_rx_no_mergeable), TEST_CASE(test_rx_backpressure),
	   TEST_CASE(test_rx_mergeable_waits_for_room),
	   TEST_CASE(test_rx_frame_larger_than_queue),
	   TEST_CASE(test_rx_broken_buffers), TEST_CASE(test_reset),
	   TEST_CASE(test_bulk_both_ways), TEST_CASE(test_more_than_a_batch),
	   TEST_CASE(test_tx_many_segments), TEST_CASE(test_realize_user),
	   TEST_CASE(test_user_dhcp_through_device),
	   TEST_CASE(test_realize_tap), TEST_CASE(test_realize_hostfwd_busy));
