/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server under mica's control API (control/api.c) and micad's API
 * (toolstack/micad_api.c): libmicrohttpd, loaded with dlopen() on first use
 * (util/dynlib.h), in its external-epoll mode with no listening socket of
 * its own. The owner accepts on its UNIX socket through httpd_accept(),
 * which caps the connections, and watches three fds on its own loop: the
 * listener (httpd_accept), mhd_fd (httpd_run) and timer_fd (read it, then
 * httpd_run).
 *
 * Client-controlled: the request line, headers and body. A body is read up
 * to body_max bytes; past it (from Content-Length when there is one) the
 * owner's handler makes the 413 reply, and a chunked body that goes on
 * past discard_max more bytes gets the connection closed.
 */
#ifndef MICA_UTIL_HTTPD_H
#define MICA_UTIL_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/log.h"

struct MHD_Connection;
struct MHD_Daemon;

/* One response: an HTTP status and a JSON body. */
struct httpd_reply {
	unsigned int status;
	char *body; /* malloc'd JSON text; NULL: out of memory (500) */
	const char *allow; /* with 405: the Allow header */
};

struct httpd_config {
	const char *name; /* in log lines: "control API" */
	const char *oom; /* the JSON body sent when there is no reply body */
	size_t body_max;
	size_t body_first; /* the first allocation for a body */
	size_t discard_max; /* read past body_max before hanging up */
	unsigned int max_connections;
	unsigned int timeout_s; /* idle seconds before a connection closes */
	bool strict; /* MHD_OPTION_STRICT_FOR_CLIENT */
	bool debug_log; /* MHD's own messages at LOG_DEBUG, else LOG_INFO */
	/*
	 * A complete request; body NULL when it was larger than body_max
	 * (the 413 reply). Fills *r.
	 */
	void (*handle)(void *opaque, struct MHD_Connection *c,
		       const char *method, const char *url, const char *body,
		       size_t len, struct httpd_reply *r);
	/* Watches the listener for events (EPOLLIN, or 0 to pause). */
	int (*listen_mod)(void *opaque, uint32_t events);
};

struct httpd {
	const struct httpd_config *cfg;
	void *opaque;
	struct MHD_Daemon *mhd;
	int listen_fd; /* the owner's; -1 once it stops accepting */
	int mhd_fd; /* MHD's epoll fd */
	int timer_fd; /* MHD's connection timeouts */
	unsigned int replying; /* responses queued, not yet sent */
	unsigned int connections; /* open, as MHD counts them */
	bool accept_paused; /* at max_connections */
	struct log_ratelimit rl; /* MHD's own messages */
};

/*
 * Loads libmicrohttpd (once). Returns 0, or -ENOENT with a message in err
 * naming what needs it (an option).
 */
int httpd_load(const char *what, char *err, size_t errlen);

void httpd_init(struct httpd *h, const struct httpd_config *cfg, void *opaque);
/*
 * Creates timer_fd and starts MHD (after httpd_load). Returns 0 or -errno:
 * -EIO with h->mhd NULL when MHD refused to start. On failure, the owner
 * calls httpd_stop.
 */
int httpd_start(struct httpd *h);
/* Runs MHD until it has nothing ready, then arms timer_fd for it. */
void httpd_run(struct httpd *h);
/* The listener is readable: accepts what the cap allows, then runs MHD. */
void httpd_accept(struct httpd *h);
/*
 * Stops MHD (the owner has taken mhd_fd and timer_fd off its loop) after
 * letting queued responses go out for at most drain_ms, or with 0 after
 * one last run; closes timer_fd.
 */
void httpd_stop(struct httpd *h, unsigned int drain_ms);

/* The value of a query argument of c's request, or NULL. */
const char *httpd_query(struct MHD_Connection *c, const char *key);
/* The uid of the client on c's UNIX socket, or (uid_t)-1. */
uid_t httpd_peer_uid(struct MHD_Connection *c);

#endif
