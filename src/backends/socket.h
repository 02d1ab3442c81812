/* SPDX-License-Identifier: MIT */
/*
 * The console over a UNIX socket (--console-socket PATH): a character
 * backend for a VMM run by a toolstack, where no terminal is attached.
 * Holds no guest pointers.
 *
 * Output goes into a history ring of a fixed size (--console-history). With
 * no client attached the guest never waits: the oldest bytes are
 * overwritten. A client that connects first receives what the ring holds,
 * then live output; while it is attached nothing is lost: when it lags a
 * whole ring behind, the guest waits (the UART holds THRE clear) until it
 * reads. Its input goes to the guest with the chardev flow control (nothing
 * dropped). One client at a time: a new connection takes over, the old one
 * is told so and disconnected. Closing the connection detaches and never
 * stops the guest.
 *
 * Threads: write() from any device thread (vCPU, virtio I/O thread); all
 * else on the main thread's loop. Locks: ring_lock is a leaf; fe_lock is
 * taken only without it, to call the frontend (chardev.h).
 *
 * Also the UNIX listening socket helpers the control API shares.
 */
#ifndef MICA_BACKENDS_SOCKET_H
#define MICA_BACKENDS_SOCKET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backends/chardev.h"
#include "util/loop.h"

#define SOCKET_HISTORY_DEFAULT (64u << 10)
#define SOCKET_HISTORY_MIN (4u << 10)
#define SOCKET_HISTORY_MAX (16u << 20)
#define SOCKET_IN_BUF 256u
#define SOCKET_PATH_MAX 108 /* sizeof(sun_path), with the NUL */

/* A listening UNIX socket that mica made, and removes at exit. */
struct socket_listener {
	int fd; /* -1: none */
	char path[SOCKET_PATH_MAX];
	dev_t dev; /* of the socket file, so only ours is removed */
	ino_t ino;
};

/*
 * Creates a listening UNIX stream socket at path with mode 0600,
 * non-blocking, close-on-exec. A stale socket file (nobody listening) is
 * removed first; a path in use by a live server, or that is not a socket,
 * is an error. what names the option for messages ("--api-socket").
 * Returns 0, or -errno with a message in err.
 */
int socket_listen(struct socket_listener *l, const char *what, const char *path,
		  char *err, size_t errlen);
/* Closes the socket (unless taken, fd == -1) and removes the file if ours. */
void socket_unlisten(struct socket_listener *l);

struct socket_chardev {
	struct chardev chr; /* first: the chardev ops recover the container */
	struct loop *loop;
	struct socket_listener listener;
	int client; /* the attached client's fd, or -1 */
	uint32_t client_events; /* what the loop watches on it */
	int out_event; /* eventfd: output for the client */
	int rx_event; /* eventfd: the frontend drained its input */

	/* The ring, under ring_lock (a leaf). */
	pthread_mutex_t ring_lock;
	uint8_t *ring;
	size_t size;
	uint64_t total; /* bytes ever written: ring[(total - 1) % size] last */
	uint64_t sent; /* attached: position of the next byte to send */
	bool attached;
	bool fe_waiting; /* a write was short: call tx_ready later */
	bool out_signalled; /* out_event written, main thread not yet run */

	/* Input, on the main thread. */
	bool in_eof; /* the client shut down its sending side */
	uint8_t in_buf[SOCKET_IN_BUF];
	size_t in_pos, in_len; /* bytes the frontend has not taken yet */
};

/*
 * Listens at path (see socket_listen) with a history ring of history bytes
 * (SOCKET_HISTORY_MIN..MAX), watched on loop. Returns 0 or -errno with a
 * message in err.
 */
int socket_chardev_open(struct socket_chardev *s, struct loop *loop,
			const char *path, size_t history, char *err,
			size_t errlen);
/*
 * Sends what the attached client has not received yet (bounded wait),
 * disconnects it and removes the socket file.
 */
void socket_chardev_close(struct socket_chardev *s);

/* For tests and the API: bytes in the history ring, and whether attached. */
size_t socket_chardev_history_len(struct socket_chardev *s);
bool socket_chardev_attached(struct socket_chardev *s);

#endif
