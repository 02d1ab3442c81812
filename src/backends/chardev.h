/* SPDX-License-Identifier: MIT */
/*
 * A character backend: the host side of a console device (stdio, later a
 * socket or a log). Holds no guest pointers.
 *
 * Output (guest -> host): the device calls chardev_write(), which accepts as
 * many bytes as fit in the backend's buffer and never blocks. When space
 * frees up after a short write, the backend calls fe->tx_ready() so the device
 * can tell the guest (a 16550's THRE interrupt).
 *
 * Input (host -> guest): the backend calls fe->receive(), which returns how
 * many bytes the device took. The rest is held, and the backend stops reading
 * its source until the device calls chardev_rx_ready(). Nothing is dropped.
 */
#ifndef MICA_BACKENDS_CHARDEV_H
#define MICA_BACKENDS_CHARDEV_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct chardev_frontend {
	size_t (*receive)(void *opaque, const uint8_t *buf, size_t len);
	void (*tx_ready)(void *opaque);
};

/*
 * fe_lock guards fe and fe_opaque: the backend holds it while it calls a
 * frontend callback, and chardev_attach() takes it, so a device can be
 * detached (attach NULL) and freed while the backend's threads run. A
 * zeroed struct chardev has a valid, unlocked fe_lock (glibc).
 */
struct chardev {
	const struct chardev_ops *ops;
	pthread_mutex_t fe_lock;
	const struct chardev_frontend *fe;
	void *fe_opaque;
};

struct chardev_ops {
	size_t (*write)(struct chardev *chr, const uint8_t *buf, size_t len);
	void (*rx_ready)(struct chardev *chr);
};

static inline void chardev_attach(struct chardev *chr,
				  const struct chardev_frontend *fe,
				  void *opaque)
{
	pthread_mutex_lock(&chr->fe_lock);
	chr->fe = fe;
	chr->fe_opaque = opaque;
	pthread_mutex_unlock(&chr->fe_lock);
}

static inline size_t chardev_write(struct chardev *chr, const uint8_t *buf,
				   size_t len)
{
	return chr->ops->write(chr, buf, len);
}

static inline void chardev_rx_ready(struct chardev *chr)
{
	if (chr->ops->rx_ready)
		chr->ops->rx_ready(chr);
}

/*
 * For backends: hands input to the attached frontend under fe_lock.
 * Returns the bytes it took (0 with none attached), never more than len.
 */
static inline size_t chardev_fe_receive(struct chardev *chr, const uint8_t *buf,
					size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&chr->fe_lock);
	if (chr->fe && chr->fe->receive)
		n = chr->fe->receive(chr->fe_opaque, buf, len);
	pthread_mutex_unlock(&chr->fe_lock);
	return n < len ? n : len;
}

/* For backends: tells the attached frontend output has room again. */
static inline void chardev_fe_tx_ready(struct chardev *chr)
{
	pthread_mutex_lock(&chr->fe_lock);
	if (chr->fe && chr->fe->tx_ready)
		chr->fe->tx_ready(chr->fe_opaque);
	pthread_mutex_unlock(&chr->fe_lock);
}

#endif
