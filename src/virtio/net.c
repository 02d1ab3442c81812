// SPDX-License-Identifier: MIT
/*
 * virtio-net (virtio 1.x, section 5.1): one network card per --net, over
 * the modern PCI transport, with a backend for the host side
 * (backends/slirp.c: user-mode networking; backends/tap.c: a tap device).
 *
 * Queues: receiveq (0) and transmitq (1); no control queue. Features: MAC,
 * STATUS (link up), MRG_RXBUF, MTU (when the backend has one), EVENT_IDX,
 * INDIRECT_DESC; and, when the backend takes them (tap), the checksum and
 * TSO offloads both ways: CSUM, HOST_TSO4/6, HOST_ECN, GUEST_CSUM,
 * GUEST_TSO4/6, GUEST_ECN. Every frame carries struct virtio_net_hdr_v1
 * (12 bytes, VERSION_1).
 *
 * Guest-controlled: the rings (parsed by virtqueue.c), the tx chains (their
 * sizes, their header, the frame), the rx buffers (their number and sizes),
 * and the moments of notifications and resets. What this file does with
 * them:
 *  - tx: a chain without room for the header is broken (NEEDS_RESET);
 *    frames shorter than an Ethernet header or longer than NET_MAX_FRAME,
 *    and headers asking for offloads that were not negotiated, are dropped
 *    and counted. The header is copied out once and sanitised; the frame
 *    goes from the guest's buffers to the backend (writev for tap), so the
 *    guest can only garble its own frame by changing it meanwhile.
 *  - rx: a receive buffer with a device-readable part, or too small for
 *    the header, is broken (NEEDS_RESET). Frames are placed into as many
 *    buffers as they need with MRG_RXBUF (num_buffers says how many), else
 *    into one; a frame larger than the guest can ever take is dropped and
 *    counted. Used lengths are what we wrote, never more than offered.
 *  - The buffers the device holds are bounded by the queue size.
 *
 * Flow: all queue work runs on the transport's I/O thread. tx pops chains
 * with notifications off, hands each frame to the backend, pushes it and
 * interrupts once per batch; when the backend is full (-EAGAIN) the chain
 * is kept and tx resumes on the backend's tx_ready(). rx takes buffers from
 * the ring ahead of need (enough for the largest frame the guest accepts,
 * so tap can readv() straight into them), keeps rx notifications off while
 * it has buffers, and when it runs out asks for a kick and stops reading
 * the backend (backpressure) until the guest posts buffers. Both directions
 * work in batches of NET_BUDGET frames and then yield to the loop through
 * virtio_defer().
 *
 * Reset (on the I/O thread): buffers held are dropped without being used,
 * the backend forgets its queued frames and stops rx; no guest memory is
 * touched until the next activate().
 */
#include "virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/slirp.h"
#include "backends/tap.h"
#include "config/config.h"
#include "util/log.h"
#include "virtio/virtqueue.h"

#define F(bit) (1ull << (bit))
#define NET_IOV_MAX 1024 /* IOV_MAX: one readv()/writev() */
#define NET_BUDGET 256 /* frames per direction before yielding */
#define PCI_CLASS_ETHERNET 0x020000
#define NET_MAX_DEFERRED_RUNS 100000

struct virtio_net {
	char name[24];
	struct virtio_device_ops ops; /* per device: features vary */
	struct virtio_device *vdev; /* NULL when detached */
	struct virtio_net_detached *det;
	struct netbe *be;
	struct net_port port;
	uint8_t mac[6];
	uint16_t mtu;
	_Atomic uint16_t status;

	/* The I/O thread's. */
	bool active, broken;
	uint64_t features;
	bool mrg;
	size_t rx_target; /* rx room to gather before reading a frame */
	struct virtq *rxq, *txq;
	/* rx buffers taken from the ring, not yet used, in ring order. */
	struct virtq_elem *stash[VIRTQ_MAX_SIZE];
	unsigned int stash_head, stash_n;
	uint64_t stash_room;
	bool rx_waiting; /* out of rx buffers: waiting for a kick */
	bool rx_deferred, tx_deferred;
	bool tx_blocked; /* the backend said -EAGAIN */
	struct virtq_elem *tx_pending; /* the chain it said that to */
	struct iovec iov[NET_IOV_MAX];
	uint8_t *tx_lin; /* for chains with too many segments */
	struct virtio_net_stats stats;
};

static bool has(const struct virtio_net *n, unsigned int bit)
{
	return n->features & F(bit);
}

/* Counters have one writer, the I/O thread: no read-modify-write needed. */
static void count(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* ---- what the device asks of its transport (or of a test) ---- */

static void net_interrupt(struct virtio_net *n, unsigned int q)
{
	if (n->vdev) {
		virtio_notify(n->vdev, q);
		return;
	}
	if (virtq_should_notify(q == VIRTIO_NET_RXQ ? n->rxq : n->txq))
		n->det->interrupts[q]++;
}

/* The driver broke the rules: stop all work until it resets us. */
static void net_needs_reset(struct virtio_net *n, const char *why)
{
	n->broken = true;
	n->be->ops->rx_enable(n->be, false);
	if (n->vdev) {
		virtio_set_needs_reset(n->vdev, why);
		return;
	}
	log_guest("%s: %s", n->name, why);
	n->det->needs_reset = true;
}

static void rx_process(struct virtio_net *n);
static void tx_process(struct virtio_net *n);

static void rx_deferred(void *opaque)
{
	struct virtio_net *n = opaque;

	n->rx_deferred = false;
	rx_process(n);
}

static void tx_deferred(void *opaque)
{
	struct virtio_net *n = opaque;

	n->tx_deferred = false;
	tx_process(n);
}

/* Continues rx or tx on a later turn of the I/O thread's loop. */
static void net_defer(struct virtio_net *n, bool rx)
{
	bool *pending = rx ? &n->rx_deferred : &n->tx_deferred;
	int r;

	if (*pending)
		return;
	if (!n->vdev) {
		*pending = true;
		return;
	}
	r = virtio_defer(n->vdev, rx ? rx_deferred : tx_deferred, n);
	if (r)
		log_warn("%s: cannot defer work: %s", n->name, strerror(-r));
	else
		*pending = true;
}

/* ---- rx: host to guest ---- */

static struct virtq_elem *stash_at(const struct virtio_net *n, unsigned int i)
{
	return n->stash[(n->stash_head + i) % VIRTQ_MAX_SIZE];
}

static struct virtq_elem *stash_take(struct virtio_net *n)
{
	struct virtq_elem *e = n->stash[n->stash_head];

	n->stash_head = (n->stash_head + 1) % VIRTQ_MAX_SIZE;
	n->stash_n--;
	n->stash_room -= e->in_len;
	return e;
}

/* Takes one rx buffer off the ring: 1, 0 when none, -EIO when broken. */
static int rx_pop(struct virtio_net *n)
{
	struct virtq_elem *e;
	int r;

	/* A guest reposting heads could give us more than it has: cap. */
	if (n->stash_n >= n->rxq->size)
		return 0;
	r = virtq_pop(n->rxq, &e);
	if (r == -ENOMEM) {
		log_warn("%s: out of memory for rx buffers", n->name);
		return 0;
	}
	if (r < 0) {
		net_needs_reset(n, "receive queue is broken");
		return -EIO;
	}
	if (r == 0)
		return 0;
	if (e->nr_out || e->in_len < NET_HDR_LEN) {
		virtq_elem_free(e);
		net_needs_reset(n, "receive buffer is read-only or "
				   "smaller than the header");
		return -EIO;
	}
	n->stash[(n->stash_head + n->stash_n) % VIRTQ_MAX_SIZE] = e;
	n->stash_n++;
	n->stash_room += e->in_len;
	return 1;
}

/* Takes buffers until there is room for want bytes (or one, without MRG). */
static int rx_top_up(struct virtio_net *n, size_t want)
{
	int r;

	while (n->mrg ? n->stash_room < want : n->stash_n == 0) {
		r = rx_pop(n);
		if (r <= 0)
			return r;
	}
	return 0;
}

/*
 * Not enough buffers: ask the guest for a kick, look once more, and stop
 * reading the backend if there is still nothing. Returns true when rx must
 * stop now (waiting, or broken).
 */
static bool rx_wait(struct virtio_net *n)
{
	int r;

	virtq_set_notification(n->rxq, true);
	r = rx_pop(n);
	if (r != 0) {
		virtq_set_notification(n->rxq, false);
		return r < 0;
	}
	n->rx_waiting = true;
	n->be->ops->rx_enable(n->be, false);
	return true;
}

/*
 * iovecs over the stashed buffers, from the first, until they hold want
 * bytes (just the first without MRG). Returns how many buffers they cover.
 */
static unsigned int rx_build_iov(struct virtio_net *n, size_t want,
				 unsigned int *cnt, size_t *room)
{
	unsigned int k, c = 0;
	size_t r = 0;

	for (k = 0; k < n->stash_n; k++) {
		const struct virtq_elem *e = stash_at(n, k);

		if (k && (!n->mrg || r >= want || c + e->nr_in > NET_IOV_MAX))
			break;
		/* nr_in <= VIRTQ_MAX_SIZE == NET_IOV_MAX: the first fits. */
		memcpy(&n->iov[c], &e->iov[e->nr_out],
		       e->nr_in * sizeof(struct iovec));
		c += e->nr_in;
		r += e->in_len;
	}
	*cnt = c;
	*room = r;
	return k;
}

/* The backend wrote len bytes over the first buffers: hand them back. */
static void rx_complete(struct virtio_net *n, size_t len)
{
	unsigned int used = 0, i;
	size_t left = len;
	uint16_t nb;

	do {
		const struct virtq_elem *e = stash_at(n, used++);

		left -= e->in_len < left ? e->in_len : left;
	} while (left && used < n->stash_n);
	nb = htole16((uint16_t)used);
	virtq_copy_to(stash_at(n, 0),
		      offsetof(struct virtio_net_hdr_v1, num_buffers), &nb,
		      sizeof(nb));
	left = len;
	for (i = 0; i < used; i++) {
		struct virtq_elem *e = stash_take(n);
		size_t take = e->in_len < left ? e->in_len : left;

		left -= take;
		virtq_push(n->rxq, e, (uint32_t)take);
	}
	count(&n->stats.rx_frames, 1);
	count(&n->stats.rx_bytes, len - NET_HDR_LEN);
}

static void rx_drop(struct virtio_net *n, ssize_t need)
{
	n->be->ops->recv(n->be, NULL, 0);
	count(&n->stats.rx_dropped, 1);
	log_guest("%s: dropped a %zd-byte frame: larger than the receive "
		  "buffers",
		  n->name, need - (ssize_t)NET_HDR_LEN);
}

static void rx_process(struct virtio_net *n)
{
	const struct netbe_ops *ops = n->be->ops;
	size_t want = n->rx_target;
	unsigned int frames = 0, delivered = 0;
	bool short_room = false; /* the next frame needs want bytes */

	if (!n->active || n->broken || !n->rxq || n->rx_waiting)
		return;
	while (frames < NET_BUDGET) {
		unsigned int k, cnt;
		size_t room;
		ssize_t r, need;

		if (rx_top_up(n, want) < 0)
			break;
		if (!n->stash_n || (short_room && n->stash_room < want)) {
			/* Every buffer the queue has is ours: never enough. */
			if (n->stash_n && n->stash_n >= n->rxq->size) {
				rx_drop(n, ops->peek(n->be));
				want = n->rx_target;
				short_room = false;
				frames++;
				continue;
			}
			if (rx_wait(n))
				break;
			continue;
		}
		k = rx_build_iov(n, want, &cnt, &room);
		r = ops->recv(n->be, n->iov, cnt);
		if (r == -EMSGSIZE) {
			need = ops->peek(n->be);
			if (need < 0 || (size_t)need <= room)
				break; /* the backend changed its mind */
			if (n->mrg && k == n->stash_n &&
			    (size_t)need <= NET_HDR_LEN + NET_MAX_FRAME) {
				want = (size_t)need; /* wait for buffers */
				short_room = true;
				continue;
			}
			rx_drop(n, need);
			want = n->rx_target;
			short_room = false;
			frames++;
			continue;
		}
		if (r < (ssize_t)NET_HDR_LEN || (size_t)r > room)
			break; /* -EAGAIN: nothing more */
		rx_complete(n, (size_t)r);
		want = n->rx_target;
		short_room = false;
		frames++;
		delivered++;
	}
	if (delivered)
		net_interrupt(n, VIRTIO_NET_RXQ);
	if (frames == NET_BUDGET)
		net_defer(n, true);
}

/* ---- tx: guest to host ---- */

/* Makes the guest's header one the backend may act on; false: drop. */
static bool tx_fix_header(const struct virtio_net *n,
			  struct virtio_net_hdr_v1 *h)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	bool ecn = h->gso_type & VIRTIO_NET_HDR_GSO_ECN;

	if (!has(n, VIRTIO_NET_F_CSUM)) {
		if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE)
			return false;
		*h = (struct virtio_net_hdr_v1){ .flags = 0 };
		return true;
	}
	/* Unknown flags are ignored (5.1.6.2.2); DATA_VALID is rx only. */
	h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->num_buffers = 0;
	if (gso == VIRTIO_NET_HDR_GSO_NONE && !ecn) {
		h->gso_size = 0;
		return true;
	}
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4)
		return has(n, VIRTIO_NET_F_HOST_TSO4) &&
		       (!ecn || has(n, VIRTIO_NET_F_HOST_ECN));
	if (gso == VIRTIO_NET_HDR_GSO_TCPV6)
		return has(n, VIRTIO_NET_F_HOST_TSO6) &&
		       (!ecn || has(n, VIRTIO_NET_F_HOST_ECN));
	return false;
}

/*
 * One tx chain: 0 when it was handled (pushed), -EAGAIN when the backend
 * is full (the caller keeps it), -EIO when the chain is broken.
 */
static int tx_one(struct virtio_net *n, struct virtq_elem *e)
{
	struct virtio_net_hdr_v1 hdr;
	uint64_t frame_len;
	unsigned int cnt = 0, i;
	size_t skip = NET_HDR_LEN;
	int r;

	if (e->out_len < NET_HDR_LEN) {
		virtq_elem_free(e);
		count(&n->stats.tx_bad_chains, 1);
		net_needs_reset(n, "transmit chain without room "
				   "for the header");
		return -EIO;
	}
	frame_len = e->out_len - NET_HDR_LEN;
	if (frame_len < NET_MIN_FRAME || frame_len > NET_MAX_FRAME) {
		log_guest("%s: dropped a %llu-byte frame", n->name,
			  (unsigned long long)frame_len);
		goto drop;
	}
	virtq_copy_from(e, 0, &hdr, sizeof(hdr));
	if (!tx_fix_header(n, &hdr)) {
		log_guest("%s: dropped a frame with offloads not negotiated "
			  "(flags 0x%x, gso_type 0x%x)",
			  n->name, hdr.flags, hdr.gso_type);
		goto drop;
	}
	n->iov[cnt++] =
		(struct iovec){ .iov_base = &hdr, .iov_len = sizeof(hdr) };
	if (e->nr_out < NET_IOV_MAX) {
		for (i = 0; i < e->nr_out; i++) {
			const struct iovec *v = &e->iov[i];

			if (skip >= v->iov_len) {
				skip -= v->iov_len;
				continue;
			}
			n->iov[cnt++] = (struct iovec){
				.iov_base = (uint8_t *)v->iov_base + skip,
				.iov_len = v->iov_len - skip,
			};
			skip = 0;
		}
	} else {
		if (!n->tx_lin)
			n->tx_lin = malloc(NET_MAX_FRAME);
		if (!n->tx_lin)
			goto drop;
		virtq_copy_from(e, NET_HDR_LEN, n->tx_lin, frame_len);
		n->iov[cnt++] = (struct iovec){ .iov_base = n->tx_lin,
						.iov_len = frame_len };
	}
	r = n->be->ops->send(n->be, n->iov, cnt);
	if (r == -EAGAIN)
		return -EAGAIN;
	if (r < 0)
		goto drop;
	count(&n->stats.tx_frames, 1);
	count(&n->stats.tx_bytes, frame_len);
	virtq_push(n->txq, e, 0);
	return 0;

drop:
	count(&n->stats.tx_dropped, 1);
	virtq_push(n->txq, e, 0);
	return 0;
}

/* Next tx chain: 1, 0 when the ring is empty, -EIO when broken. */
static int tx_pop(struct virtio_net *n, struct virtq_elem **e)
{
	int r = virtq_pop(n->txq, e);

	if (r == 0) {
		/* Empty: ask for a kick, then close the race. */
		virtq_set_notification(n->txq, true);
		r = virtq_pop(n->txq, e);
		if (r == 1)
			virtq_set_notification(n->txq, false);
	}
	if (r == -ENOMEM) {
		log_warn("%s: out of memory for tx chains", n->name);
		return 0;
	}
	if (r < 0) {
		net_needs_reset(n, "transmit queue is broken");
		return -EIO;
	}
	return r;
}

static void tx_process(struct virtio_net *n)
{
	unsigned int frames = 0;
	struct virtq_elem *e;
	int r;

	if (!n->active || n->broken || !n->txq || n->tx_blocked)
		return;
	virtq_set_notification(n->txq, false);
	while (frames < NET_BUDGET) {
		e = n->tx_pending;
		n->tx_pending = NULL;
		if (!e && tx_pop(n, &e) <= 0)
			break;
		r = tx_one(n, e);
		if (r == -EAGAIN) {
			n->tx_pending = e;
			n->tx_blocked = true;
			break;
		}
		if (r < 0)
			break;
		frames++;
	}
	if (frames)
		net_interrupt(n, VIRTIO_NET_TXQ);
	if (frames == NET_BUDGET)
		net_defer(n, false);
}

/* ---- the backend's view of us ---- */

static int port_watch(void *opaque, int fd, uint32_t events, loop_fn fn,
		      void *fn_opaque)
{
	struct virtio_net *n = opaque;

	if (!n->vdev)
		return -EOPNOTSUPP;
	return virtio_watch(n->vdev, fd, events, fn, fn_opaque);
}

static void port_unwatch(void *opaque, int fd)
{
	struct virtio_net *n = opaque;

	if (n->vdev)
		virtio_unwatch(n->vdev, fd);
}

static void port_rx_ready(void *opaque)
{
	rx_process(opaque);
}

static void port_tx_ready(void *opaque)
{
	struct virtio_net *n = opaque;

	n->tx_blocked = false;
	tx_process(n);
}

/* ---- the transport's view of us ---- */

static void net_config_read(void *opaque, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_net *n = opaque;
	uint8_t cfg[VIRTIO_NET_CFG_SIZE];
	uint16_t status = htole16(atomic_load(&n->status));
	uint16_t pairs = htole16(1), mtu = htole16(n->mtu);

	memcpy(cfg + VIRTIO_NET_CFG_MAC, n->mac, sizeof(n->mac));
	memcpy(cfg + VIRTIO_NET_CFG_STATUS, &status, 2);
	memcpy(cfg + VIRTIO_NET_CFG_MAX_PAIRS, &pairs, 2);
	memcpy(cfg + VIRTIO_NET_CFG_MTU, &mtu, 2);
	if (off > sizeof(cfg) || len > sizeof(cfg) - off) {
		memset(buf, 0, len);
		return;
	}
	memcpy(buf, cfg + off, len);
}

static int net_activate(void *opaque, uint64_t features)
{
	struct virtio_net *n = opaque;
	uint32_t offloads = 0;
	size_t mtu = n->mtu ? n->mtu : 1500;
	int r;

	n->features = features;
	n->mrg = has(n, VIRTIO_NET_F_MRG_RXBUF);
	if (n->vdev) {
		n->rxq = virtio_queue_enabled(n->vdev, VIRTIO_NET_RXQ) ?
				 virtio_queue(n->vdev, VIRTIO_NET_RXQ) :
				 NULL;
		n->txq = virtio_queue_enabled(n->vdev, VIRTIO_NET_TXQ) ?
				 virtio_queue(n->vdev, VIRTIO_NET_TXQ) :
				 NULL;
	} else {
		n->rxq = n->det->queues[VIRTIO_NET_RXQ];
		n->txq = n->det->queues[VIRTIO_NET_TXQ];
	}
	/* What the guest takes in received frames (TSO needs GUEST_CSUM). */
	if (has(n, VIRTIO_NET_F_GUEST_CSUM)) {
		offloads |= NET_OFFLOAD_CSUM;
		if (has(n, VIRTIO_NET_F_GUEST_TSO4))
			offloads |= NET_OFFLOAD_TSO4;
		if (has(n, VIRTIO_NET_F_GUEST_TSO6))
			offloads |= NET_OFFLOAD_TSO6;
		if (has(n, VIRTIO_NET_F_GUEST_ECN) &&
		    (offloads & (NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6)))
			offloads |= NET_OFFLOAD_ECN;
	}
	if (n->be->offloads) {
		r = n->be->ops->set_offloads(n->be, offloads);
		if (r)
			return r;
	}
	n->rx_target = NET_HDR_LEN +
		       (offloads & (NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6) ?
				NET_MAX_FRAME :
				mtu + NET_ETH_HLEN + NET_VLAN_HLEN);
	n->active = true;
	n->broken = false;
	n->rx_waiting = false;
	n->tx_blocked = false;
	if (n->rxq) {
		virtq_set_notification(n->rxq, false);
		n->be->ops->rx_enable(n->be, true);
		rx_process(n);
	}
	tx_process(n);
	return 0;
}

static void net_queue_notify(void *opaque, unsigned int q)
{
	struct virtio_net *n = opaque;

	if (!n->active || n->broken)
		return;
	if (q == VIRTIO_NET_RXQ && n->rxq) {
		if (n->rx_waiting) {
			n->rx_waiting = false;
			virtq_set_notification(n->rxq, false);
			n->be->ops->rx_enable(n->be, true);
		}
		rx_process(n);
	} else if (q == VIRTIO_NET_TXQ) {
		tx_process(n);
	}
}

static void net_reset(void *opaque)
{
	struct virtio_net *n = opaque;

	n->active = false;
	while (n->stash_n)
		virtq_elem_free(stash_take(n));
	n->stash_head = 0;
	n->stash_room = 0;
	virtq_elem_free(n->tx_pending);
	n->tx_pending = NULL;
	n->be->ops->reset(n->be);
	n->rx_waiting = false;
	n->tx_blocked = false;
	n->broken = false;
	n->features = 0;
	n->rxq = n->txq = NULL;
}

static const struct virtio_device_ops net_ops_template = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.pci_class = PCI_CLASS_ETHERNET,
	.nr_queues = VIRTIO_NET_NR_QUEUES,
	.queue_max_size = VIRTIO_NET_QUEUE_SIZE,
	.config_size = VIRTIO_NET_CFG_SIZE,
	.config_read = net_config_read,
	.activate = net_activate,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
};

/* ---- life cycle ---- */

void virtio_net_set_link(struct virtio_net *n, bool up)
{
	uint16_t v = up ? VIRTIO_NET_S_LINK_UP : 0;

	if (atomic_exchange(&n->status, v) == v)
		return;
	if (n->vdev)
		virtio_config_changed(n->vdev);
	else
		n->det->config_changes++;
}

const struct virtio_net_stats *virtio_net_stats(const struct virtio_net *n)
{
	return &n->stats;
}

const struct virtio_device_ops *virtio_net_ops(const struct virtio_net *n)
{
	return &n->ops;
}

/* Makes the device for backend be (taken: freed on failure too). */
static int net_new(struct virtio_net **out, struct netbe *be,
		   const uint8_t mac[6])
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	uint64_t f = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
		     F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_F_EVENT_IDX) |
		     F(VIRTIO_F_INDIRECT_DESC);

	*out = NULL;
	if (!n) {
		be->ops->destroy(be);
		return -ENOMEM;
	}
	if (be->mtu)
		f |= F(VIRTIO_NET_F_MTU);
	if (be->offloads)
		f |= F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) |
		     F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN) |
		     F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
		     F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN);
	n->ops = net_ops_template;
	n->ops.features = f;
	n->be = be;
	n->mtu = be->mtu;
	memcpy(n->mac, mac, sizeof(n->mac));
	atomic_init(&n->status, VIRTIO_NET_S_LINK_UP);
	n->port = (struct net_port){
		.watch = port_watch,
		.unwatch = port_unwatch,
		.rx_ready = port_rx_ready,
		.tx_ready = port_tx_ready,
		.opaque = n,
	};
	snprintf(n->name, sizeof(n->name), "virtio-net");
	*out = n;
	return 0;
}

static void net_free(struct virtio_net *n)
{
	while (n->stash_n)
		virtq_elem_free(stash_take(n));
	virtq_elem_free(n->tx_pending);
	n->be->ops->destroy(n->be);
	free(n->tx_lin);
	free(n);
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	if (n->vdev)
		virtio_pci_destroy(n->vdev);
	n->vdev = NULL;
	net_free(n);
}

int virtio_net_new(struct virtio_net **out, const struct device_host *host,
		   const char *name, struct netbe *be, const uint8_t mac[6],
		   char *err, size_t errlen)
{
	struct virtio_net *n;
	int r;

	*out = NULL;
	r = net_new(&n, be, mac);
	if (r) {
		snprintf(err, errlen, "%s: out of memory", name);
		return r;
	}
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->vdev = virtio_pci_create(host, n->name, &n->ops, n, err, errlen);
	if (!n->vdev) {
		net_free(n);
		return -EIO;
	}
	/* Before the first activate(): virtio_watch() may be called here. */
	r = be->ops->attach(be, &n->port);
	if (r) {
		snprintf(err, errlen, "%s: cannot attach the %s backend: %s",
			 name, be->kind, strerror(-r));
		virtio_net_destroy(n);
		return r;
	}
	*out = n;
	return 0;
}

int virtio_net_new_detached(struct virtio_net **out, struct netbe *be,
			    const uint8_t mac[6], struct virtio_net_detached *d)
{
	int r = net_new(out, be, mac);

	if (r)
		return r;
	(*out)->det = d;
	r = be->ops->attach(be, &(*out)->port);
	if (r) {
		net_free(*out);
		*out = NULL;
	}
	return r;
}

unsigned int virtio_net_run_deferred(struct virtio_net *n)
{
	unsigned int runs = 0;

	while ((n->rx_deferred || n->tx_deferred) &&
	       runs < NET_MAX_DEFERRED_RUNS) {
		if (n->tx_deferred)
			tx_deferred(n);
		if (n->rx_deferred)
			rx_deferred(n);
		runs++;
	}
	return runs;
}

/* The device type: one virtio-net function per --net. */
struct net_set {
	struct virtio_net *dev[CONFIG_MAX_NETS];
	unsigned int nr;
};

static int open_backend(const struct net_config *nc, struct netbe **be,
			char *err, size_t errlen)
{
	switch (nc->backend) {
	case NET_USER:
		return net_slirp_new(be, nc, err, errlen);
	case NET_TAP:
		return net_tap_new(be, nc->tap, err, errlen);
	}
	snprintf(err, errlen, "--net: unknown backend %d", (int)nc->backend);
	return -EINVAL;
}

static void virtio_net_unrealize(void *state)
{
	struct net_set *set = state;

	while (set->nr)
		virtio_net_destroy(set->dev[--set->nr]);
}

static int virtio_net_realize(void *state, const struct device_host *host)
{
	struct net_set *set = state;
	const struct vm_config *cfg = host->cfg;
	char err[320], name[24];
	unsigned int i;
	int rc;

	for (i = 0; i < cfg->nr_nets && i < CONFIG_MAX_NETS; i++) {
		struct netbe *be;

		rc = open_backend(&cfg->nets[i], &be, err, sizeof(err));
		if (!rc) {
			snprintf(name, sizeof(name), "virtio-net%u", i);
			rc = virtio_net_new(&set->dev[set->nr], host, name, be,
					    cfg->nets[i].mac, err, sizeof(err));
		}
		if (rc) {
			virtio_net_unrealize(set);
			return device_fail(host, rc, "%s", err);
		}
		set->nr++;
	}
	return 0;
}

int virtio_net_get_counters(void *state, unsigned int i, const char **name,
			    struct virtio_net_counters *out)
{
	const struct net_set *set = state;
	const struct virtio_net_stats *st;

	if (i >= set->nr)
		return -ENOENT;
	st = &set->dev[i]->stats;
	*name = set->dev[i]->name;
	*out = (struct virtio_net_counters){
		.rx_bytes = atomic_load_explicit(&st->rx_bytes,
						 memory_order_relaxed),
		.tx_bytes = atomic_load_explicit(&st->tx_bytes,
						 memory_order_relaxed),
		.rx_packets = atomic_load_explicit(&st->rx_frames,
						   memory_order_relaxed),
		.tx_packets = atomic_load_explicit(&st->tx_frames,
						   memory_order_relaxed),
		.dropped = atomic_load_explicit(&st->rx_dropped,
						memory_order_relaxed) +
			   atomic_load_explicit(&st->tx_dropped,
						memory_order_relaxed) +
			   atomic_load_explicit(&st->tx_bad_chains,
						memory_order_relaxed),
	};
	return 0;
}

const struct device_type virtio_net_type = {
	.name = "virtio-net",
	.state_size = sizeof(struct net_set),
	.realize = virtio_net_realize,
	.unrealize = virtio_net_unrealize,
};
