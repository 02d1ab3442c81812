/* SPDX-License-Identifier: MIT */
/*
 * The mica CLI's HTTP/JSON client for micad's API (docs/api.md), over
 * micad's UNIX socket.
 *
 * libcurl does the HTTP; it is loaded with dlopen() on the first request
 * rather than linked, so a plain "mica run" never loads it (see client.c).
 * Replies of any HTTP status come back to the caller; only a request that
 * got no reply at all (no micad, a timeout, a broken connection) is an
 * error here. The reply comes from micad, a more privileged process, but
 * is still checked: bounded in size, parsed by jansson, fields checked for
 * type before use.
 */
#ifndef MICA_TOOLSTACK_CLIENT_H
#define MICA_TOOLSTACK_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#define CLIENT_DEFAULT_SOCKET "/run/mica/micad.sock"
#define CLIENT_SOCKET_MAX 107 /* sun_path, without the NUL */
#define CLIENT_REPLY_MAX (16u << 20) /* a longer reply is refused */
#define CLIENT_TIMEOUT_MS 30000L /* a whole request */
#define CLIENT_CONNECT_TIMEOUT_MS 5000L

struct client {
	char socket[CLIENT_SOCKET_MAX + 1];
	long timeout_ms;
};

struct client_reply {
	long status; /* HTTP status */
	char *body; /* NUL-terminated, may be "" */
	size_t len;
	json_t *json; /* body parsed, or NULL if it is not JSON */
};

/*
 * The socket to use: path if not NULL, else $MICA_SOCKET if set and not
 * empty, else CLIENT_DEFAULT_SOCKET.
 */
const char *client_socket_path(const char *path);

/* Checks the path fits a UNIX socket address. -ENAMETOOLONG with err set. */
int client_init(struct client *c, const char *socket, char *err, size_t errlen);

/*
 * One request: method ("GET", "POST", "DELETE"), path ("/v1/domains"),
 * body (serialized as JSON, or NULL for none). On 0, *r holds the reply
 * (free it with client_reply_free()). On failure, -errno with err set:
 * -ENOENT/-ECONNREFUSED/... "cannot reach micad at PATH: REASON (is micad
 * running?)", -ETIMEDOUT, -EFBIG (reply too large), -ENOSYS (libcurl
 * missing), -EIO.
 */
int client_request(struct client *c, const char *method, const char *path,
		   const json_t *body, struct client_reply *r, char *err,
		   size_t errlen);

void client_reply_free(struct client_reply *r);

/*
 * The reply's error message: its JSON "error" string, or a description of
 * the status when the body has none. Always NUL-terminates msg.
 */
void client_reply_error(const struct client_reply *r, char *msg, size_t len);

/*
 * Appends s percent-encoded (RFC 3986 unreserved characters kept) to buf.
 * Returns 0, or -ENAMETOOLONG if it did not fit.
 */
int client_escape(const char *s, char *buf, size_t len);

#endif
