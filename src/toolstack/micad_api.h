/* SPDX-License-Identifier: MIT */
/*
 * micad's HTTP/JSON API (docs/api.md, docs/openapi.yaml): routing, request
 * validation, quotas (body size, per-client rate limit) and the HTTP server
 * (libmicrohttpd, driven from micad's loop in its external-epoll mode;
 * micad accepts connections itself, to cap them and to learn each client's
 * uid with SO_PEERCRED).
 *
 * Everything in a request is untrusted: the URL, the body, its size. The
 * domains are reached only through struct micad_ops, so the unit suite
 * micad_api runs every route against a fake supervisor.
 */
#ifndef MICA_TOOLSTACK_MICAD_API_H
#define MICA_TOOLSTACK_MICAD_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "toolstack/domcfg.h"
#include "toolstack/micad_loop.h"
#include "util/httpd.h"

#define MICAD_API_BODY_MAX (1u << 20)
#define MICAD_API_MAX_CONNECTIONS 32
#define MICAD_API_TIMEOUT_S 10
#define MICAD_RATE_PER_S 50 /* tokens per second, per client uid */
#define MICAD_RATE_BURST 100
#define MICAD_RATE_CLIENTS 64 /* uids tracked; the least recent is reused */
#define MICAD_EVENTS_DEFAULT 20 /* GET .../events without limit= */
#define MICAD_SHUTDOWN_TIMEOUT_DEFAULT 60
#define MICAD_SHUTDOWN_TIMEOUT_MAX 86400

enum micad_action {
	MICAD_PAUSE,
	MICAD_UNPAUSE,
	MICAD_REBOOT,
	MICAD_SHUTDOWN,
};

/*
 * What the API asks of the domains. Each returns 0 with *out set to a new
 * JSON reference, or -errno with a message in err naming the domain and the
 * reason: -ENOENT (404), -EEXIST (409, name or UUID taken), -EBUSY (409,
 * wrong state), -EINVAL (400), anything else (500).
 */
struct micad_ops {
	int (*list)(void *opaque, json_t **out, char *err, size_t errlen);
	/* cfg is validated; the supervisor takes it over (domcfg_free). */
	int (*create)(void *opaque, struct domain_config *cfg, bool start,
		      json_t **out, char *err, size_t errlen);
	int (*get)(void *opaque, const char *name, json_t **out, char *err,
		   size_t errlen);
	int (*action)(void *opaque, const char *name, enum micad_action act,
		      unsigned int timeout_s, json_t **out, char *err,
		      size_t errlen);
	int (*destroy)(void *opaque, const char *name, char *err,
		       size_t errlen);
	int (*stats)(void *opaque, const char *name, json_t **out, char *err,
		     size_t errlen);
	int (*events)(void *opaque, const char *name, unsigned int limit,
		      json_t **out, char *err, size_t errlen);
	int (*console)(void *opaque, const char *name, json_t **out, char *err,
		       size_t errlen);
};

/* A token bucket per client uid. */
struct micad_rate {
	uid_t uid;
	bool used;
	double tokens;
	uint64_t last_ns;
};

struct micad_api {
	const struct micad_ops *ops;
	void *opaque;
	uint64_t (*now_ns)(void); /* the rate limit's clock; tests set it */
	struct micad_rate rate[MICAD_RATE_CLIENTS];

	/* The server (micad_api_listen). */
	struct micad_loop *loop;
	struct httpd http;
	struct micad_watch listen_w, mhd_w, timer_w; /* http's fds */
	char path[108];
};

void micad_api_init(struct micad_api *api, const struct micad_ops *ops,
		    void *opaque);

/*
 * One request: method and path (without the query), limit_arg the value
 * of ?limit= (or NULL), the body, and the client's uid (rate limit). The
 * reply is in *r; free r->body.
 */
void micad_api_handle(struct micad_api *api, const char *method,
		      const char *path, const char *limit_arg, const char *body,
		      size_t len, uid_t uid, struct httpd_reply *r);
/* A body larger than MICAD_API_BODY_MAX: the 413 reply. */
void micad_api_too_large(struct httpd_reply *r);

/*
 * Serves the API on a UNIX socket at path, mode 0600, or 0660 and owned
 * by group gid when gid != (gid_t)-1. Returns 0, or -errno with a message.
 */
int micad_api_listen(struct micad_api *api, struct micad_loop *loop,
		     const char *path, gid_t gid, char *err, size_t errlen);
void micad_api_close(struct micad_api *api);

#endif
