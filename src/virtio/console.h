/* SPDX-License-Identifier: MIT */
/*
 * virtio-console: with --console virtio, the terminal is port 0 of a
 * virtio console device (the guest's hvc0). See console.c.
 */
#ifndef MICA_VIRTIO_CONSOLE_H
#define MICA_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#include "devices/device.h"

/* Queues of the single-port device (no MULTIPORT, no control queues). */
#define VIRTIO_CONSOLE_RXQ 0 /* receiveq0: host input to the guest */
#define VIRTIO_CONSOLE_TXQ 1 /* transmitq0: the guest's output */
#define VIRTIO_CONSOLE_NR_QUEUES 2
#define VIRTIO_CONSOLE_QUEUE_SIZE 256
/* Bytes of host input held for a driver that has posted no buffers. */
#define VIRTIO_CONSOLE_RX_BUF 4096u
/* cols le16, rows le16, max_nr_ports le32, emerg_wr le32 */
#define VIRTIO_CONSOLE_CONFIG_SIZE 12u

extern const struct device_type virtio_console_type;

/*
 * The device without its PCI transport, for unit tests and the fuzzer: the
 * caller hands it the queues and runs, on one thread, what the transport's
 * I/O thread would. The VMM itself only uses virtio_console_type.
 */
struct virtio_console;
struct chardev;
struct virtq;

/* Attaches to chr (which may be NULL: output discarded, no input). */
struct virtio_console *virtio_console_new(struct chardev *chr);
/* Detaches from the chardev and frees c (dropping a chain in progress). */
void virtio_console_free(struct virtio_console *c);
/* The driver set DRIVER_OK with these (initialised) queues; NULL: off. */
int virtio_console_start(struct virtio_console *c, struct virtq *rxq,
			 struct virtq *txq);
/* The driver notified queue q. */
void virtio_console_kick(struct virtio_console *c, unsigned int q);
/* The work the backend's callbacks handed to the I/O thread. */
void virtio_console_poll(struct virtio_console *c);
/* Device reset. */
void virtio_console_stop(struct virtio_console *c);
/* Whether the device put itself in NEEDS_RESET since the last start. */
bool virtio_console_broken(const struct virtio_console *c);
/* Bytes of host input staged for the guest. */
size_t virtio_console_staged(struct virtio_console *c);

#endif
