/* SPDX-License-Identifier: MIT */
/*
 * What a virtio device (blk.c, net.c, console.c, rng.c) sees of its
 * transport, the virtio 1.x modern PCI transport in virtio/virtio_pci.c.
 *
 * The transport owns the PCI function, the capabilities, the common
 * configuration, feature negotiation, the queues' setup, interrupts
 * (MSI-X, or ISR + INTx) and the device's I/O thread. Queue notifications
 * arrive through ioeventfds on that thread, never on a vCPU thread, and so
 * does every call of queue_notify(). A device may watch its own file
 * descriptors (io_uring, tap, ...) on the same thread with virtio_watch().
 *
 * Device status: the transport handles ACKNOWLEDGE .. DRIVER_OK, FAILED and
 * reset (register layout and locking: virtio_pci.h, virtio_pci.c). A device that finds the driver misbehaving calls
 * virtio_set_needs_reset(); it then gets no more queue_notify() calls until
 * the driver resets it.
 */
#ifndef MICA_VIRTIO_VIRTIO_H
#define MICA_VIRTIO_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "util/loop.h"
#include "virtio/virtqueue.h"

/* Device IDs (virtio 1.x, section 5). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* Feature bits every device may offer; the transport adds VERSION_1. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33

#define VIRTIO_MAX_QUEUES 64

struct device_host;
struct virtio_device;

struct virtio_device_ops {
	const char *name; /* "virtio-blk", for messages */
	uint16_t device_id; /* VIRTIO_ID_* */
	uint32_t pci_class; /* class code for the PCI function */
	unsigned int nr_queues;
	uint16_t queue_max_size;
	uint64_t features; /* offered, device-specific and VIRTIO_F_* */
	uint32_t config_size; /* bytes of device-specific configuration */

	/*
	 * Device configuration space. The transport has checked that
	 * [off, off + len) lies inside config_size; len is 1, 2, 4 or 8.
	 * Called on vCPU threads; the device locks what it shares.
	 */
	void (*config_read)(void *opaque, uint32_t off, void *buf,
			    uint32_t len);
	void (*config_write)(void *opaque, uint32_t off, const void *buf,
			     uint32_t len); /* optional: read-only space */

	/*
	 * The driver set DRIVER_OK; features are the negotiated ones and the
	 * enabled queues are initialised. Return 0, or -errno to put the
	 * device in NEEDS_RESET. On the I/O thread.
	 */
	int (*activate)(void *opaque, uint64_t features);
	/* The driver notified queue q (which is enabled). On the I/O thread. */
	void (*queue_notify)(void *opaque, unsigned int q);
	/*
	 * Device reset: finish or cancel in-flight host work and forget the
	 * queues; after it returns, the device touches no guest memory until
	 * the next activate(). On the I/O thread; called once after each
	 * activate() (even a failed one), when the driver resets the device
	 * or at virtio_pci_destroy(), never without an activate() before.
	 */
	void (*reset)(void *opaque);
};

/*
 * Creates the PCI function for a device and starts its I/O thread. name is
 * the instance's name ("virtio-blk0"), for messages and the thread name.
 * Returns NULL with a message in err.
 */
struct virtio_device *virtio_pci_create(const struct device_host *host,
					const char *name,
					const struct virtio_device_ops *ops,
					void *opaque, char *err, size_t errlen);
/*
 * Stops the I/O thread (calling reset() if the device is activated; work
 * still queued with virtio_defer() runs first) and unplugs the function.
 * The device's watches are gone with the thread: the device closes its
 * file descriptors after this.
 */
void virtio_pci_destroy(struct virtio_device *vdev);

/* Queue q's ring; valid between activate() and reset(). */
struct virtq *virtio_queue(struct virtio_device *vdev, unsigned int q);
/* Whether the driver enabled queue q. */
bool virtio_queue_enabled(struct virtio_device *vdev, unsigned int q);

/*
 * After pushing used elements to queue q: interrupts the driver if it
 * wants one (virtq_should_notify). On the I/O thread.
 */
void virtio_notify(struct virtio_device *vdev, unsigned int q);
/* The device configuration changed (link status, capacity). Any thread. */
void virtio_config_changed(struct virtio_device *vdev);
/*
 * The driver broke the rules: log (rate-limited) why, set NEEDS_RESET and
 * tell the driver. On the I/O thread (any thread works).
 */
void virtio_set_needs_reset(struct virtio_device *vdev, const char *why);

/*
 * Watch fd on the device's I/O thread (fn runs there). Call before the
 * first activate(), or on the I/O thread. Returns 0 or -errno.
 */
int virtio_watch(struct virtio_device *vdev, int fd, uint32_t events,
		 loop_fn fn, void *opaque);
void virtio_unwatch(struct virtio_device *vdev, int fd);

/*
 * Runs fn(opaque) on the I/O thread soon (from any thread), in the order
 * queued. Returns 0, -ENOMEM, or -ESHUTDOWN once the thread has stopped.
 */
int virtio_defer(struct virtio_device *vdev, void (*fn)(void *opaque),
		 void *opaque);

#endif
