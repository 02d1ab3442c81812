// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for virtio-net (src/virtio/net.c): a hostile driver
 * posting transmit chains (header + frame, any shapes and sizes) and
 * receive buffers (any sizes, some read-only), kicking, resetting and
 * renegotiating, while a fake backend hands the device frames to receive
 * and blocks its transmit side at times. The device runs without its
 * transport (virtio_net_new_detached), on this thread, over real split
 * rings (virtqueue.c) in fake guest RAM.
 *
 * The guest: one 1 MiB RAM region at 0x100000. The receive queue's rings
 * are at its start, the transmit queue's at +16 KiB, buffers from +64 KiB
 * up (a bump allocator that wraps).
 *
 * Input: byte 0 selects the features and the backend (bits below), then a
 * stream of operations, one byte each (low 4 bits) with argument bytes
 * taken from the stream:
 *   0 post tx: u8 n (1-4 segments), per segment u8 flags (bit 0 writable,
 *     bit 1 a large buffer), le16 length, then as many content bytes as
 *     the segment is long (or what is left of the input)
 *   1 post rx: u8 n (1-3), per segment u8 flags (bit 0 read-only), le16 len
 *   2 kick tx        3 kick rx
 *   4 backend frame: le16 length (<= NET_MAX_FRAME), 12 header bytes, then
 *     content bytes; the backend tells the device if rx is on
 *   5 toggle the backend's tx blocking (unblocking calls tx_ready)
 *   6 reset, then renegotiate with the next byte as features
 *   7 run deferred work   8 poke: le16 offset, u8 value into RAM (the
 *   driver rewriting rings or buffers)   9 reap the used rings
 *   10 config read: u8 offset, u8 width   11 toggle the link
 *
 * Checks beyond the sanitizers: what reaches the backend is a frame of a
 * valid size with a header the negotiated features allow; used lengths
 * never exceed the buffers; after a reset nothing is written to the rings
 * until the next activation; the device never asks for an interrupt on a
 * queue it did not use.
 *
 * Seeds: MICA_FUZZ_VIRTIO_NET_SEEDS=DIR build/fuzz/fuzz_virtio_net writes
 * the generator's inputs (below) to DIR and exits; they are committed in
 * tests/fuzz/corpus/fuzz_virtio_net/.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/net.h"
#include "util/log.h"
#include "virtio/net.h"
#include "virtio/virtqueue.h"
#include "vm/guest_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define RAM_GPA 0x100000ull
#define RAM_SIZE 0x100000ull
#define RXQ_RINGS (RAM_GPA)
#define TXQ_RINGS (RAM_GPA + 0x4000)
#define DATA_GPA (RAM_GPA + 0x10000)
#define DATA_END (RAM_GPA + RAM_SIZE)
#define BIG_LEN 0x11000u /* a buffer over NET_MAX_FRAME */
#define MAX_RX_FRAMES 8

/* Byte 0. */
#define SEL_MRG 0x01
#define SEL_CSUM 0x02 /* CSUM, HOST_TSO4/6, HOST_ECN */
#define SEL_GUEST 0x04 /* GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN */
#define SEL_EVENT_IDX 0x08
#define SEL_INDIRECT 0x10 /* negotiated; reachable through pokes */
#define SEL_OFFLOADS 0x20 /* the backend takes offloads */
#define SEL_MTU 0x40
#define SEL_SMALL 0x80 /* queues of 4 instead of 16 */

#define F(b) (1ull << (b))

static uint8_t *ram;
static struct guest_mem gm;

/* ---- input ---- */

struct in {
	const uint8_t *p;
	size_t left;
};

static uint8_t in8(struct in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint16_t in16(struct in *in)
{
	uint16_t lo = in8(in);

	return (uint16_t)(lo | in8(in) << 8);
}

/* Copies up to len input bytes to dst; zero-fills the rest. */
static void in_bytes(struct in *in, uint8_t *dst, size_t len)
{
	size_t n = len < in->left ? len : in->left;

	memcpy(dst, in->p, n);
	memset(dst + n, 0, len - n);
	in->p += n;
	in->left -= n;
}

/*
 * Buffer contents: the first CONTENT_MAX bytes from the input, a pattern
 * after them (the device never looks past the header).
 */
#define CONTENT_MAX 64

static void in_content(struct in *in, uint8_t *dst, size_t len)
{
	size_t n = len < CONTENT_MAX ? len : CONTENT_MAX;

	in_bytes(in, dst, n);
	memset(dst + n, 0xab, len - n);
}

/* ---- the fake backend: one thread, no fds ---- */

struct fzbe {
	struct netbe be;
	bool blocked, tx_waiting, rx_on;
	uint64_t features; /* what the device negotiated, for checks */
	uint8_t *rx[MAX_RX_FRAMES];
	size_t rx_len[MAX_RX_FRAMES];
	unsigned int rx_head, rx_n;
};

static struct fzbe *fz(struct netbe *be)
{
	return (struct fzbe *)be;
}

static int fz_attach(struct netbe *be, const struct net_port *port)
{
	be->port = port;
	return 0;
}

static int fz_send(struct netbe *be, const struct iovec *iov,
		   unsigned int iovcnt)
{
	struct fzbe *f = fz(be);
	size_t len = net_iov_len(iov, iovcnt);
	struct virtio_net_hdr_v1 h;
	static uint8_t frame[NET_MAX_FRAME];

	if (f->blocked) {
		f->tx_waiting = true;
		return -EAGAIN;
	}
	if (len < NET_HDR_LEN + NET_MIN_FRAME ||
	    len > NET_HDR_LEN + NET_MAX_FRAME)
		abort(); /* the device let a bad size through */
	net_iov_to_buf(iov, iovcnt, 0, &h, sizeof(h));
	if (h.num_buffers)
		abort();
	if (!(f->features & F(VIRTIO_NET_F_CSUM)) &&
	    (h.flags || h.gso_type || h.gso_size || h.csum_start ||
	     h.csum_offset || h.hdr_len))
		abort(); /* a header without CSUM must be all zero */
	if (h.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		abort();
	/* Touch every byte, as a backend copying it would. */
	net_iov_to_buf(iov, iovcnt, NET_HDR_LEN, frame, len - NET_HDR_LEN);
	be->stats.tx_frames++;
	return 0;
}

static ssize_t fz_recv(struct netbe *be, const struct iovec *iov,
		       unsigned int iovcnt)
{
	struct fzbe *f = fz(be);
	ssize_t r;

	if (!f->rx_n)
		return -EAGAIN;
	r = (ssize_t)f->rx_len[f->rx_head];
	if (iov && net_iov_len(iov, iovcnt) < (size_t)r)
		return -EMSGSIZE;
	if (iov)
		net_buf_to_iov(iov, iovcnt, 0, f->rx[f->rx_head], (size_t)r);
	free(f->rx[f->rx_head]);
	f->rx_head = (f->rx_head + 1) % MAX_RX_FRAMES;
	f->rx_n--;
	return r;
}

static ssize_t fz_peek(struct netbe *be)
{
	struct fzbe *f = fz(be);

	return f->rx_n ? (ssize_t)f->rx_len[f->rx_head] : -EAGAIN;
}

static void fz_rx_enable(struct netbe *be, bool on)
{
	fz(be)->rx_on = on;
}

static int fz_set_offloads(struct netbe *be, uint32_t offloads)
{
	if (!be->offloads && offloads)
		abort();
	return 0;
}

static void fz_drop_rx(struct fzbe *f)
{
	while (f->rx_n) {
		free(f->rx[f->rx_head]);
		f->rx_head = (f->rx_head + 1) % MAX_RX_FRAMES;
		f->rx_n--;
	}
}

static void fz_reset(struct netbe *be)
{
	struct fzbe *f = fz(be);

	fz_drop_rx(f);
	f->rx_on = false;
	f->tx_waiting = false;
}

static void fz_destroy(struct netbe *be)
{
	fz_drop_rx(fz(be));
	free(be);
}

static const struct netbe_ops fz_ops = {
	.attach = fz_attach,
	.send = fz_send,
	.recv = fz_recv,
	.peek = fz_peek,
	.rx_enable = fz_rx_enable,
	.set_offloads = fz_set_offloads,
	.reset = fz_reset,
	.destroy = fz_destroy,
};

/* ---- the driver ---- */

struct drvq {
	struct virtq vq;
	gpa_t desc, avail, used;
	uint16_t size, avail_idx, last_used, next_desc;
	uint32_t in_len[16]; /* per head: what the chain offered */
	uint16_t chain[16]; /* per head: its descriptors, one bit each */
	uint16_t busy; /* descriptors in flight */
};

struct drv {
	struct virtio_net *n;
	struct fzbe *be;
	struct virtio_net_detached det;
	struct drvq q[VIRTIO_NET_NR_QUEUES];
	gpa_t data_next;
	uint64_t features;
	bool active, small;
	bool poked; /* descriptors may say anything since activation */
};

static void *hva(gpa_t gpa)
{
	return ram + (gpa - RAM_GPA);
}

static void wr16(gpa_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(hva(gpa), &v, 2);
}

static uint16_t rd16(gpa_t gpa)
{
	uint16_t v;

	memcpy(&v, hva(gpa), 2);
	return le16toh(v);
}

static uint32_t rd32(gpa_t gpa)
{
	uint32_t v;

	memcpy(&v, hva(gpa), 4);
	return le32toh(v);
}

static gpa_t data_alloc(struct drv *d, uint32_t len)
{
	gpa_t at;

	if (len > DATA_END - DATA_GPA)
		len = (uint32_t)(DATA_END - DATA_GPA);
	if (d->data_next + len > DATA_END)
		d->data_next = DATA_GPA;
	at = d->data_next;
	d->data_next = (d->data_next + len + 15) & ~15ull;
	return at;
}

static void queue_init(struct drv *d, unsigned int qi, gpa_t rings)
{
	struct drvq *q = &d->q[qi];

	q->size = d->small ? 4 : 16;
	q->desc = rings;
	q->avail = rings + 16ull * q->size;
	q->used = (q->avail + 6 + 2ull * q->size + 3) & ~3ull;
	memset(hva(rings), 0, 0x1000);
	q->avail_idx = q->last_used = q->next_desc = 0;
	q->busy = 0;
	memset(q->in_len, 0, sizeof(q->in_len));
	memset(q->chain, 0, sizeof(q->chain));
	q->vq = (struct virtq){
		.mem = &gm,
		.size = q->size,
		.desc = q->desc,
		.avail = q->avail,
		.used = q->used,
		.event_idx = d->features & F(VIRTIO_F_EVENT_IDX),
		.indirect = d->features & F(VIRTIO_F_INDIRECT_DESC),
	};
	if (virtq_init(&q->vq))
		abort();
}

static uint64_t features_of(uint8_t sel, bool offloads, bool mtu)
{
	uint64_t f = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
		     F(VIRTIO_F_VERSION_1);

	if (sel & SEL_MRG)
		f |= F(VIRTIO_NET_F_MRG_RXBUF);
	if (sel & SEL_EVENT_IDX)
		f |= F(VIRTIO_F_EVENT_IDX);
	if (sel & SEL_INDIRECT)
		f |= F(VIRTIO_F_INDIRECT_DESC);
	if (mtu)
		f |= F(VIRTIO_NET_F_MTU);
	if (offloads && (sel & SEL_CSUM))
		f |= F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) |
		     F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN);
	if (offloads && (sel & SEL_GUEST))
		f |= F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
		     F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN);
	return f;
}

static void activate(struct drv *d, uint8_t sel)
{
	const struct virtio_device_ops *ops = virtio_net_ops(d->n);

	d->features = features_of(sel, d->be->be.offloads, d->be->be.mtu);
	if ((d->features & ~ops->features) & ~F(VIRTIO_F_VERSION_1))
		abort(); /* we asked for something not offered */
	d->be->features = d->features;
	queue_init(d, VIRTIO_NET_RXQ, RXQ_RINGS);
	queue_init(d, VIRTIO_NET_TXQ, TXQ_RINGS);
	d->det.queues[VIRTIO_NET_RXQ] = &d->q[VIRTIO_NET_RXQ].vq;
	d->det.queues[VIRTIO_NET_TXQ] = &d->q[VIRTIO_NET_TXQ].vq;
	d->det.needs_reset = false;
	d->poked = false;
	d->active = ops->activate(d->n, d->features) == 0;
}

/*
 * Posts a chain of n segments (writable[i]: device-writable) from free
 * descriptors. Without enough free ones the driver misbehaves: it reuses
 * descriptors of chains in flight, and the length checks are off.
 */
static void post(struct drv *d, unsigned int qi, const gpa_t *addr,
		 const uint32_t *len, const bool *writable, unsigned int n)
{
	struct drvq *q = &d->q[qi];
	uint16_t idx[4], head;
	uint32_t in = 0;
	unsigned int i, k, found = 0;

	for (k = 0; k < q->size && found < n; k++) {
		uint16_t c = (uint16_t)((q->next_desc + k) % q->size);

		if (!(q->busy & (1u << c)))
			idx[found++] = c;
	}
	for (; found < n; found++) {
		idx[found] = (uint16_t)((q->next_desc + found) % q->size);
		d->poked = true;
	}
	head = idx[0];
	q->chain[head] = 0;
	for (i = 0; i < n; i++) {
		gpa_t dp = q->desc + 16ull * idx[i];
		uint64_t a = htole64(addr[i]);
		uint32_t l = htole32(len[i]);
		uint16_t flags =
			(uint16_t)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
				   (writable[i] ? VIRTQ_DESC_F_WRITE : 0));

		memcpy(hva(dp), &a, 8);
		memcpy(hva(dp + 8), &l, 4);
		wr16(dp + 12, flags);
		wr16(dp + 14, i + 1 < n ? idx[i + 1] : 0);
		if (writable[i])
			in += len[i];
		q->busy |= (uint16_t)(1u << idx[i]);
		q->chain[head] |= (uint16_t)(1u << idx[i]);
	}
	q->next_desc = (uint16_t)((idx[n - 1] + 1) % q->size);
	q->in_len[head] = in;
	wr16(q->avail + 4 + 2ull * (q->avail_idx % q->size), head);
	q->avail_idx++;
	wr16(q->avail + 2, q->avail_idx);
}

static void op_post_tx(struct drv *d, struct in *in)
{
	unsigned int n = (in8(in) & 3) + 1, i;
	gpa_t addr[4];
	uint32_t len[4];
	bool wr[4];

	for (i = 0; i < n; i++) {
		uint8_t fl = in8(in);

		len[i] = fl & 2 ? BIG_LEN : in16(in) % 0x2000u;
		wr[i] = fl & 1;
		addr[i] = data_alloc(d, len[i]);
		in_content(in, hva(addr[i]), len[i]);
	}
	post(d, VIRTIO_NET_TXQ, addr, len, wr, n);
}

static void op_post_rx(struct drv *d, struct in *in)
{
	unsigned int n = in8(in) % 3 + 1, i;
	gpa_t addr[3];
	uint32_t len[3];
	bool wr[3];

	for (i = 0; i < n; i++) {
		uint8_t fl = in8(in);

		len[i] = in16(in) % 0x4000u;
		wr[i] = !(fl & 1);
		addr[i] = data_alloc(d, len[i]);
	}
	/* Readable after writable is the ring's business: keep it rare. */
	post(d, VIRTIO_NET_RXQ, addr, len, wr, n);
}

static void op_frame(struct drv *d, struct in *in)
{
	struct fzbe *f = d->be;
	size_t len = in16(in);
	uint8_t *p;

	if (f->rx_n == MAX_RX_FRAMES)
		return;
	if (len > NET_MAX_FRAME)
		len = NET_MAX_FRAME;
	p = malloc(NET_HDR_LEN + len);
	if (!p)
		return;
	in_bytes(in, p, NET_HDR_LEN);
	in_content(in, p + NET_HDR_LEN, len);
	f->rx[(f->rx_head + f->rx_n) % MAX_RX_FRAMES] = p;
	f->rx_len[(f->rx_head + f->rx_n) % MAX_RX_FRAMES] = NET_HDR_LEN + len;
	f->rx_n++;
	if (f->rx_on)
		f->be.port->rx_ready(f->be.port->opaque);
}

static void reap(struct drv *d)
{
	unsigned int qi;

	for (qi = 0; qi < VIRTIO_NET_NR_QUEUES; qi++) {
		struct drvq *q = &d->q[qi];
		uint16_t idx = rd16(q->used + 2);

		while (q->last_used != idx) {
			gpa_t e = q->used + 4 + 8ull * (q->last_used % q->size);
			uint32_t id = rd32(e), len = rd32(e + 4);

			/* After pokes the used ring may hold anything. */
			if (!d->poked && (id >= q->size || len > q->in_len[id]))
				abort();
			if (!d->poked && qi == VIRTIO_NET_TXQ && len)
				abort(); /* tx writes nothing */
			if (id < q->size) {
				q->busy &= (uint16_t)~q->chain[id];
				q->chain[id] = 0;
			}
			q->last_used++;
		}
	}
}

static void run(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 1, 2, 3 };
	struct in in = { .p = data, .left = size };
	struct drv d = { .data_next = DATA_GPA };
	const struct virtio_device_ops *ops;
	uint8_t sel = in8(&in);
	struct fzbe *f = calloc(1, sizeof(*f));

	if (!f)
		return;
	f->be = (struct netbe){
		.ops = &fz_ops,
		.kind = "fuzz",
		.offloads = sel & SEL_OFFLOADS,
		.mtu = sel & SEL_MTU ? 1500 : 0,
	};
	d.be = f;
	d.small = sel & SEL_SMALL;
	memset(ram, 0, RAM_SIZE);
	if (virtio_net_new_detached(&d.n, &f->be, mac, &d.det))
		return;
	ops = virtio_net_ops(d.n);
	activate(&d, sel);
	while (in.left) {
		uint8_t op = in8(&in);

		switch (op & 15) {
		case 0:
			op_post_tx(&d, &in);
			break;
		case 1:
			op_post_rx(&d, &in);
			break;
		case 2:
			if (d.active && !d.det.needs_reset)
				ops->queue_notify(d.n, VIRTIO_NET_TXQ);
			break;
		case 3:
			if (d.active && !d.det.needs_reset)
				ops->queue_notify(d.n, VIRTIO_NET_RXQ);
			break;
		case 4:
			op_frame(&d, &in);
			break;
		case 5:
			f->blocked = !f->blocked;
			if (!f->blocked && f->tx_waiting) {
				f->tx_waiting = false;
				f->be.port->tx_ready(f->be.port->opaque);
			}
			break;
		case 6: {
			uint16_t rx_used = rd16(d.q[0].used + 2);
			uint16_t tx_used = rd16(d.q[1].used + 2);

			ops->reset(d.n);
			/* Nothing happens to the rings after a reset. */
			op_frame(&d, &in);
			virtio_net_run_deferred(d.n);
			if (rd16(d.q[0].used + 2) != rx_used ||
			    rd16(d.q[1].used + 2) != tx_used)
				abort();
			activate(&d, in8(&in));
			break;
		}
		case 7:
			virtio_net_run_deferred(d.n);
			break;
		case 8: {
			uint16_t off = in16(&in);

			ram[off % 0x8000] = in8(&in); /* the rings' pages */
			d.poked = true;
			break;
		}
		case 9:
			reap(&d);
			break;
		case 10: {
			uint8_t buf[8];
			uint32_t off = in8(&in) % VIRTIO_NET_CFG_SIZE;
			uint32_t w = 1u << (in8(&in) % 3);

			if (off + w <= VIRTIO_NET_CFG_SIZE)
				ops->config_read(d.n, off, buf, w);
			break;
		}
		case 11:
			virtio_net_set_link(d.n, in8(&in) & 1);
			break;
		default:
			break;
		}
	}
	virtio_net_run_deferred(d.n);
	if (!d.det.needs_reset)
		reap(&d);
	ops->reset(d.n);
	virtio_net_destroy(d.n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size);
	return 0;
}

/* ---- seeds ---- */

static size_t seed_put(uint8_t *s, size_t at, const void *p, size_t n)
{
	memcpy(s + at, p, n);
	return at + n;
}

/* A tx chain: the header, then a frame of flen bytes. */
static size_t seed_tx(uint8_t *s, size_t at, uint8_t gso, uint16_t flen)
{
	uint8_t hdr[NET_HDR_LEN] = { gso ? 1 : 0, gso };
	uint8_t frame[CONTENT_MAX];
	size_t i;

	s[at++] = 0; /* post tx */
	s[at++] = 1; /* two segments */
	s[at++] = 0;
	s[at++] = NET_HDR_LEN;
	s[at++] = 0;
	at = seed_put(s, at, hdr, sizeof(hdr));
	s[at++] = 0;
	s[at++] = (uint8_t)flen;
	s[at++] = (uint8_t)(flen >> 8);
	for (i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 3);
	memset(frame, 0xff, 6);
	return seed_put(s, at, frame, flen < CONTENT_MAX ? flen : CONTENT_MAX);
}

static size_t seed_rx(uint8_t *s, size_t at, unsigned int n, uint16_t len)
{
	unsigned int i;

	s[at++] = 1;
	s[at++] = (uint8_t)(n - 1);
	for (i = 0; i < n; i++) {
		s[at++] = 0;
		s[at++] = (uint8_t)len;
		s[at++] = (uint8_t)(len >> 8);
	}
	return at;
}

static size_t seed_frame(uint8_t *s, size_t at, uint16_t len)
{
	uint8_t hdr[NET_HDR_LEN] = { 0 };
	uint8_t body[CONTENT_MAX];

	memset(body, 0x5a, sizeof(body));
	s[at++] = 4;
	s[at++] = (uint8_t)len;
	s[at++] = (uint8_t)(len >> 8);
	at = seed_put(s, at, hdr, sizeof(hdr));
	return seed_put(s, at, body, len < CONTENT_MAX ? len : CONTENT_MAX);
}

static void write_seed(const char *dir, const char *name, const uint8_t *s,
		       size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (!fp)
		return;
	fwrite(s, 1, len, fp);
	fclose(fp);
}

static void write_seeds(const char *dir)
{
	static uint8_t s[4096];
	size_t at;

	/* tx of a few frames, plain. */
	at = 0;
	s[at++] = SEL_MRG | SEL_EVENT_IDX | SEL_MTU;
	at = seed_tx(s, at, 0, 60);
	at = seed_tx(s, at, 0, 200);
	s[at++] = 2;
	s[at++] = 9;
	write_seed(dir, "tx-plain", s, at);

	/* tx with offloads: a TSO4 header. */
	at = 0;
	s[at++] = SEL_MRG | SEL_CSUM | SEL_GUEST | SEL_OFFLOADS | SEL_EVENT_IDX;
	at = seed_tx(s, at, VIRTIO_NET_HDR_GSO_TCPV4, 100);
	s[at++] = 2;
	s[at++] = 9;
	write_seed(dir, "tx-tso", s, at);

	/* mergeable rx over small buffers. */
	at = 0;
	s[at++] = SEL_MRG | SEL_EVENT_IDX;
	at = seed_rx(s, at, 1, 128);
	at = seed_rx(s, at, 1, 128);
	at = seed_rx(s, at, 1, 128);
	s[at++] = 3;
	at = seed_frame(s, at, 300);
	s[at++] = 7;
	s[at++] = 9;
	write_seed(dir, "rx-mergeable", s, at);

	/* rx without MRG, backpressure then a kick. */
	at = 0;
	s[at++] = SEL_MTU;
	at = seed_frame(s, at, 100);
	at = seed_frame(s, at, 1600);
	at = seed_rx(s, at, 2, 800);
	s[at++] = 3;
	s[at++] = 9;
	write_seed(dir, "rx-backpressure", s, at);

	/* tx blocked, reset, renegotiate. */
	at = 0;
	s[at++] = SEL_MRG | SEL_SMALL;
	s[at++] = 5;
	at = seed_tx(s, at, 0, 80);
	s[at++] = 2;
	s[at++] = 6;
	at = seed_frame(s, at, 20);
	s[at++] = SEL_MRG | SEL_EVENT_IDX;
	at = seed_tx(s, at, 0, 80);
	s[at++] = 2;
	s[at++] = 9;
	s[at++] = 10;
	s[at++] = 6;
	s[at++] = 1;
	s[at++] = 11;
	s[at++] = 0;
	write_seed(dir, "tx-blocked-reset", s, at);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("MICA_FUZZ_VIRTIO_NET_SEEDS");

	(void)argc;
	(void)argv;
	if (dir) {
		write_seeds(dir);
		exit(0);
	}
	/* The guest is meant to misbehave here: keep stderr for crashes. */
	log_threshold = LOG_ERROR;
	ram = aligned_alloc(4096, RAM_SIZE);
	if (!ram)
		abort();
	gm = (struct guest_mem){
		.regions = { { .gpa = RAM_GPA, .size = RAM_SIZE, .host = ram } },
		.nr_regions = 1,
	};
	return 0;
}
