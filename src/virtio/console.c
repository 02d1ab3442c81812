// SPDX-License-Identifier: MIT
/*
 * virtio-console (virtio 1.x, section 5.3): with --console virtio the
 * terminal's character backend is port 0 of this device, the guest's hvc0.
 * One port: no VIRTIO_CONSOLE_F_MULTIPORT (so no control queues), no
 * F_SIZE (the backend does not report a terminal size) and no EMERG_WRITE.
 * Queue 0 (receiveq0) carries host input to the guest, queue 1
 * (transmitq0) the guest's output.
 *
 * Guest-controlled: the chains on both queues (virtqueue.c checks their
 * layout; this file checks their direction and bounds its work per pass),
 * when and how many buffers the driver posts, reads of the configuration
 * space, resets at any time.
 *
 * Output. The I/O thread pops a transmit chain and writes its device-
 * readable bytes to the chardev. chardev_write() may take fewer bytes than
 * offered: then the chain and the offset reached are kept, and writing
 * resumes when the backend calls tx_ready() (or the guest kicks again). A
 * chain is returned to the driver only when all of it has been accepted,
 * so output is never dropped and the I/O thread never blocks; a stalled
 * terminal stalls the guest's console (Linux's hvc waits for its chain), as
 * the UART's THRE does. Device-writable parts of a transmit chain are
 * ignored (the chain completes with 0 bytes written).
 *
 * Input. The backend's receive() copies host bytes into a staging ring of
 * VIRTIO_CONSOLE_RX_BUF bytes and returns how many fit, 0 when it is full;
 * the device then owes the backend a chardev_rx_ready(), sent once the I/O
 * thread has drained the ring to half. The I/O thread moves staged bytes
 * into the driver's receive buffers, completing each buffer with the bytes
 * it got at once (hvc wants bytes, not full buffers). When the driver has
 * posted no buffers the bytes wait; a kick on receiveq (or more input)
 * moves them. Only the I/O thread touches guest memory.
 *
 * Threads and locks. receive() and tx_ready() run on the backend's threads
 * with its fe_lock held. They take c->lock (receive only, for the staging
 * ring) and signal c->kick, an eventfd watched on the device's I/O thread;
 * all other state belongs to the I/O thread. c->lock is never held while
 * calling the chardev or the transport. Lock order: fe_lock -> c->lock.
 *
 * Reset drops the transmit chain in progress and forgets the queues; the
 * chardev stays attached, and bytes staged for input stay, to be delivered
 * after the next activation (keys typed while the driver was not loaded).
 * Unrealize detaches the chardev first, so no callback reaches a freed
 * device.
 */
#include "virtio/console.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backends/chardev.h"
#include "config/config.h"
#include "util/log.h"
#include "util/loop.h"
#include "virtio/virtio.h"
#include "virtio/virtqueue.h"

/* PCI class: simple communication controller, other. */
#define VCON_PCI_CLASS 0x078000u
/* Output bytes written per pass of the I/O thread before other work. */
#define VCON_TX_BUDGET (256u << 10)

struct virtio_console {
	bool present; /* realized with --console virtio, or made by _new */
	struct virtio_device *vdev; /* NULL without a transport */
	struct chardev *chr; /* NULL: output discarded, no input */
	bool attached;
	int kick; /* eventfd: backend callbacks -> I/O thread */

	/* The I/O thread's state. */
	bool active; /* between activate() and reset() */
	bool broken; /* NEEDS_RESET was set; nothing runs until reset */
	struct virtq *vq[VIRTIO_CONSOLE_NR_QUEUES];
	struct virtq_elem *tx_elem; /* the chain being written, or NULL */
	unsigned int tx_seg; /* its segment being written */
	size_t tx_seg_off; /* bytes of that segment already accepted */

	/* Host input staged for the guest, under lock. */
	pthread_mutex_t lock;
	bool lock_ok;
	uint8_t rx_buf[VIRTIO_CONSOLE_RX_BUF];
	size_t rx_head, rx_count;
	bool rx_wanted; /* receive() came up short: owe rx_ready */
};

static void vcon_notify(struct virtio_console *c, unsigned int q)
{
	if (c->vdev)
		virtio_notify(c->vdev, q);
}

/* The transport names the device in its message; why does not. */
static void vcon_fail(struct virtio_console *c, const char *why)
{
	c->broken = true;
	if (c->vdev)
		virtio_set_needs_reset(c->vdev, why);
	else
		log_guest("virtio-console: %s", why);
}

/*
 * Takes the next chain of queue q. Returns 1 with *elem, 0 when there is
 * none (with notifications re-armed, so the driver's next buffer kicks),
 * -1 when the pass must stop (broken ring: NEEDS_RESET; no host memory).
 */
static int vcon_pop(struct virtio_console *c, unsigned int q,
		    struct virtq_elem **elem)
{
	struct virtq *vq = c->vq[q];
	int rc;

	rc = virtq_pop(vq, elem);
	if (rc == 0) {
		virtq_set_notification(vq, true);
		rc = virtq_pop(vq, elem);
	}
	if (rc >= 0)
		return rc;
	if (rc == -EIO) {
		vcon_fail(c, "virtqueue broken");
	} else {
		static struct log_ratelimit rl;

		if (log_ratelimit_ok(&rl))
			log_warn("virtio-console: cannot take a request: %s",
				 strerror(-rc));
	}
	return -1;
}

/* --- output ------------------------------------------------------------ */

enum tx_result { TX_DONE, TX_BLOCKED, TX_BUDGET };

/* Writes what is left of c->tx_elem, within *budget bytes. */
static enum tx_result tx_write(struct virtio_console *c, uint64_t *budget)
{
	const struct virtq_elem *e = c->tx_elem;

	while (c->tx_seg < e->nr_out) {
		const struct iovec *iov = &e->iov[c->tx_seg];
		size_t len, n;

		if (c->tx_seg_off >= iov->iov_len) {
			c->tx_seg++;
			c->tx_seg_off = 0;
			continue;
		}
		if (!*budget)
			return TX_BUDGET;
		len = iov->iov_len - c->tx_seg_off;
		if (len > *budget)
			len = *budget;
		/* iov_base is guest RAM checked by virtqueue.c (gm_ptr). */
		n = c->chr ? chardev_write(c->chr,
					   (const uint8_t *)iov->iov_base +
						   c->tx_seg_off,
					   len) :
			     len;
		if (n > len)
			n = len;
		c->tx_seg_off += n;
		*budget -= n;
		if (n < len)
			return TX_BLOCKED;
	}
	return TX_DONE;
}

/* I/O thread: send the guest's output until the backend is full. */
static void tx_pump(struct virtio_console *c)
{
	struct virtq *vq = c->vq[VIRTIO_CONSOLE_TXQ];
	uint64_t budget = VCON_TX_BUDGET;
	unsigned int chains = 0;
	bool pushed = false, more = false;

	if (!c->active || c->broken || !vq)
		return;
	for (;;) {
		enum tx_result res;

		if (!c->tx_elem) {
			/* Bound one pass, also for zero-length chains. */
			if (chains == VIRTIO_CONSOLE_QUEUE_SIZE || !budget) {
				more = true;
				break;
			}
			if (vcon_pop(c, VIRTIO_CONSOLE_TXQ, &c->tx_elem) <= 0)
				break;
			chains++;
			c->tx_seg = 0;
			c->tx_seg_off = 0;
			if (c->tx_elem->nr_in)
				log_guest("virtio-console: transmit chain with "
					  "device-writable buffers; they are "
					  "ignored");
		}
		res = tx_write(c, &budget);
		if (res == TX_BUDGET)
			more = true;
		if (res != TX_DONE)
			break;
		virtq_push(vq, c->tx_elem, 0);
		c->tx_elem = NULL;
		pushed = true;
	}
	if (pushed)
		vcon_notify(c, VIRTIO_CONSOLE_TXQ);
	if (more)
		event_signal(c->kick); /* the rest after other work */
}

/* Backend thread, fe_lock held: room for output again. */
static void vcon_tx_ready(void *opaque)
{
	struct virtio_console *c = opaque;

	event_signal(c->kick);
}

/* --- input ------------------------------------------------------------- */

/* Backend thread, fe_lock held: host input. */
static size_t vcon_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct virtio_console *c = opaque;
	size_t taken, tail, first;

	pthread_mutex_lock(&c->lock);
	taken = VIRTIO_CONSOLE_RX_BUF - c->rx_count;
	if (taken > len)
		taken = len;
	tail = (c->rx_head + c->rx_count) % VIRTIO_CONSOLE_RX_BUF;
	first = VIRTIO_CONSOLE_RX_BUF - tail;
	if (first > taken)
		first = taken;
	memcpy(c->rx_buf + tail, buf, first);
	memcpy(c->rx_buf, buf + first, taken - first);
	c->rx_count += taken;
	if (taken < len)
		c->rx_wanted = true;
	pthread_mutex_unlock(&c->lock);
	if (len)
		event_signal(c->kick);
	return taken;
}

/*
 * Moves staged bytes into the device-writable part of e, with c->lock
 * held. Returns the bytes moved.
 */
static uint64_t rx_take(struct virtio_console *c, const struct virtq_elem *e)
{
	uint64_t n = c->rx_count, first, done;

	if (n > e->in_len)
		n = e->in_len;
	first = VIRTIO_CONSOLE_RX_BUF - c->rx_head;
	if (first > n)
		first = n;
	done = virtq_copy_to(e, 0, c->rx_buf + c->rx_head, first);
	if (done == first && n > first)
		done += virtq_copy_to(e, first, c->rx_buf, n - first);
	c->rx_head = (c->rx_head + done) % VIRTIO_CONSOLE_RX_BUF;
	c->rx_count -= done;
	return done;
}

/* I/O thread: deliver staged input into the driver's receive buffers. */
static void rx_pump(struct virtio_console *c)
{
	struct virtq *vq = c->vq[VIRTIO_CONSOLE_RXQ];
	unsigned int bufs = 0;
	bool pushed = false, ready = false, more = false;

	if (!c->active || c->broken || !vq)
		return;
	for (;;) {
		struct virtq_elem *e;
		uint64_t n;
		size_t staged;

		pthread_mutex_lock(&c->lock);
		staged = c->rx_count;
		pthread_mutex_unlock(&c->lock);
		if (!staged)
			break; /* only this thread takes bytes out */
		if (bufs++ == VIRTIO_CONSOLE_QUEUE_SIZE) {
			more = true;
			break;
		}
		if (vcon_pop(c, VIRTIO_CONSOLE_RXQ, &e) <= 0)
			break;
		if (!e->in_len)
			log_guest("virtio-console: receive buffer with no "
				  "device-writable bytes");
		pthread_mutex_lock(&c->lock);
		n = rx_take(c, e);
		pthread_mutex_unlock(&c->lock);
		/* n <= VIRTIO_CONSOLE_RX_BUF */
		virtq_push(vq, e, (uint32_t)n);
		pushed = true;
	}
	pthread_mutex_lock(&c->lock);
	if (c->rx_wanted && c->rx_count <= VIRTIO_CONSOLE_RX_BUF / 2) {
		c->rx_wanted = false;
		ready = true;
	}
	pthread_mutex_unlock(&c->lock);
	if (pushed)
		vcon_notify(c, VIRTIO_CONSOLE_RXQ);
	if (ready && c->chr)
		chardev_rx_ready(c->chr);
	if (more)
		event_signal(c->kick);
}

/* --- the device's life ---------------------------------------------------- */

static void vcon_on_kick(void *opaque, uint32_t events)
{
	struct virtio_console *c = opaque;

	(void)events;
	event_drain(c->kick);
	tx_pump(c);
	rx_pump(c);
}

int virtio_console_start(struct virtio_console *c, struct virtq *rxq,
			 struct virtq *txq)
{
	c->vq[VIRTIO_CONSOLE_RXQ] = rxq;
	c->vq[VIRTIO_CONSOLE_TXQ] = txq;
	c->active = true;
	c->broken = false;
	/* Chains posted before DRIVER_OK, input typed before the driver. */
	tx_pump(c);
	rx_pump(c);
	return 0;
}

void virtio_console_stop(struct virtio_console *c)
{
	if (c->tx_elem) {
		virtq_elem_free(c->tx_elem);
		c->tx_elem = NULL;
	}
	c->active = false;
	c->broken = false;
	c->vq[VIRTIO_CONSOLE_RXQ] = NULL;
	c->vq[VIRTIO_CONSOLE_TXQ] = NULL;
}

void virtio_console_kick(struct virtio_console *c, unsigned int q)
{
	if (q == VIRTIO_CONSOLE_TXQ)
		tx_pump(c);
	else if (q == VIRTIO_CONSOLE_RXQ)
		rx_pump(c);
}

void virtio_console_poll(struct virtio_console *c)
{
	vcon_on_kick(c, EPOLLIN);
}

bool virtio_console_broken(const struct virtio_console *c)
{
	return c->broken;
}

size_t virtio_console_staged(struct virtio_console *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->rx_count;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* --- transport ops (I/O thread, except config_read) ------------------------ */

static void vcon_config_read(void *opaque, uint32_t off, void *buf,
			     uint32_t len)
{
	/* cols, rows: 0 (no F_SIZE); max_nr_ports: 1; emerg_wr: 0. */
	static const uint8_t config[VIRTIO_CONSOLE_CONFIG_SIZE] = {
		[4] = 1,
	};

	(void)opaque;
	if (off > sizeof(config) || len > sizeof(config) - off) {
		memset(buf, 0, len);
		return;
	}
	memcpy(buf, config + off, len);
}

static int vcon_activate(void *opaque, uint64_t features)
{
	struct virtio_console *c = opaque;
	struct virtq *q[VIRTIO_CONSOLE_NR_QUEUES] = { NULL, NULL };
	unsigned int i;

	(void)features;
	for (i = 0; i < VIRTIO_CONSOLE_NR_QUEUES; i++)
		if (virtio_queue_enabled(c->vdev, i))
			q[i] = virtio_queue(c->vdev, i);
	return virtio_console_start(c, q[VIRTIO_CONSOLE_RXQ],
				    q[VIRTIO_CONSOLE_TXQ]);
}

static void vcon_queue_notify(void *opaque, unsigned int q)
{
	virtio_console_kick(opaque, q);
}

static void vcon_reset(void *opaque)
{
	virtio_console_stop(opaque);
}

static const struct virtio_device_ops vcon_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.pci_class = VCON_PCI_CLASS,
	.nr_queues = VIRTIO_CONSOLE_NR_QUEUES,
	.queue_max_size = VIRTIO_CONSOLE_QUEUE_SIZE,
	.features = (1ull << VIRTIO_F_INDIRECT_DESC) |
		    (1ull << VIRTIO_F_EVENT_IDX),
	.config_size = VIRTIO_CONSOLE_CONFIG_SIZE,
	.config_read = vcon_config_read,
	.activate = vcon_activate,
	.queue_notify = vcon_queue_notify,
	.reset = vcon_reset,
};

static const struct chardev_frontend vcon_frontend = {
	.receive = vcon_receive,
	.tx_ready = vcon_tx_ready,
};

/* Everything but the transport; c is zeroed. */
static int vcon_init(struct virtio_console *c, struct chardev *chr)
{
	int rc;

	c->kick = -1;
	c->chr = chr;
	rc = pthread_mutex_init(&c->lock, NULL);
	if (rc)
		return -rc;
	c->lock_ok = true;
	c->kick = event_new();
	if (c->kick < 0)
		return c->kick;
	c->present = true;
	return 0;
}

static void vcon_attach(struct virtio_console *c)
{
	if (c->chr) {
		chardev_attach(c->chr, &vcon_frontend, c);
		c->attached = true;
	}
}

/*
 * Detaching takes the backend's fe_lock, so it waits for a receive() or
 * tx_ready() in progress; after it no callback can reach c. The backend
 * outlives the device.
 */
static void vcon_fini(struct virtio_console *c)
{
	if (c->attached) {
		chardev_attach(c->chr, NULL, NULL);
		c->attached = false;
	}
	if (c->vdev) {
		virtio_pci_destroy(c->vdev); /* stops the I/O thread: reset() */
		c->vdev = NULL;
	}
	virtio_console_stop(c);
	if (c->kick >= 0) {
		close(c->kick);
		c->kick = -1;
	}
	if (c->lock_ok) {
		pthread_mutex_destroy(&c->lock);
		c->lock_ok = false;
	}
	c->present = false;
}

struct virtio_console *virtio_console_new(struct chardev *chr)
{
	struct virtio_console *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (vcon_init(c, chr)) {
		vcon_fini(c);
		free(c);
		return NULL;
	}
	vcon_attach(c);
	return c;
}

void virtio_console_free(struct virtio_console *c)
{
	if (!c)
		return;
	vcon_fini(c);
	free(c);
}

static int virtio_console_realize(void *state, const struct device_host *host)
{
	struct virtio_console *c = state;
	char err[256];
	int rc;

	if (!host->cfg || host->cfg->console != CONSOLE_VIRTIO)
		return 0; /* the terminal is the UART's */
	rc = vcon_init(c, host->console);
	if (rc) {
		device_fail(host, rc, "virtio-console: %s", strerror(-rc));
		goto fail;
	}
	c->vdev = virtio_pci_create(host, "virtio-console0", &vcon_ops, c, err,
				    sizeof(err));
	if (!c->vdev) {
		rc = device_fail(host, -ENODEV, "%s", err);
		goto fail;
	}
	rc = virtio_watch(c->vdev, c->kick, EPOLLIN, vcon_on_kick, c);
	if (rc) {
		device_fail(
			host, rc,
			"virtio-console: watching the backend's wake-ups: %s",
			strerror(-rc));
		goto fail;
	}
	vcon_attach(c);
	return 0;

fail:
	vcon_fini(c);
	return rc;
}

static void virtio_console_unrealize(void *state)
{
	struct virtio_console *c = state;

	if (c->present)
		vcon_fini(c);
}

const struct device_type virtio_console_type = {
	.name = "virtio-console",
	.state_size = sizeof(struct virtio_console),
	.realize = virtio_console_realize,
	.unrealize = virtio_console_unrealize,
};
