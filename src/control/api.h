/* SPDX-License-Identifier: MIT */
/*
 * The control API of one mica VMM process (--api-socket PATH): HTTP/1.1
 * with JSON bodies on a UNIX socket, for the toolstack (micad) and for
 * scripts. docs/api-vmm.md documents every request and response.
 *
 * The server (libmicrohttpd) runs on the main thread's event loop, so a
 * request acts on the VM from the thread that owns it: no locks against VM
 * teardown, no extra thread. Requests reach the VM only through struct
 * api_ops, so the routing and validation (api_handle) are tested without
 * KVM against a fake.
 *
 * Client-controlled (the socket is owner-only, but a client may still be
 * buggy): method, path, headers and body. Bodies are capped at
 * API_BODY_MAX (413 beyond), parsed by jansson and checked field by field;
 * connections are capped in number and idle time.
 */
#ifndef MICA_CONTROL_API_H
#define MICA_CONTROL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/socket.h"
#include "util/httpd.h"
#include "util/loop.h"
#include "vm/vm.h"

#define API_BODY_MAX (64u << 10)
#define API_MAX_CONNECTIONS 16
#define API_CONN_TIMEOUT_S 10 /* idle seconds before a connection is closed */
#define API_DRAIN_MS 2000 /* at exit, for responses still being sent */

enum api_vm_state {
	API_VM_RUNNING,
	API_VM_PAUSED,
};

struct api_vm_info {
	enum api_vm_state state;
	long pid;
	unsigned int vcpus;
	uint64_t memory_mib;
	uint64_t uptime_ms; /* since the current boot of the guest */
	const char *console; /* "serial" or "virtio" */
};

/*
 * What a request may do to the VM. Each returns 0 or -errno: -EALREADY
 * when the VM is already in the state asked for (409), -ESRCH when there
 * is no VM to act on because mica is rebuilding or stopping it (503), any
 * other error 500. power_button, reboot and stop only start the action.
 */
struct api_ops {
	int (*info)(void *opaque, struct api_vm_info *out);
	int (*pause)(void *opaque);
	int (*resume)(void *opaque);
	int (*power_button)(void *opaque);
	int (*reboot)(void *opaque); /* as a guest reset: --on-reboot holds */
	int (*stop)(void *opaque); /* as Ctrl-A x: mica exits with status 0 */
	int (*stats)(void *opaque, struct vm_stats *out);
};

/*
 * Routes one complete request (path without the query string) and runs
 * it. Every error reply is {"error": "what and why"}. Never fails: an
 * internal error is a 500 reply.
 */
void api_handle(const struct api_ops *ops, void *opaque, const char *method,
		const char *path, const char *body, size_t len,
		struct httpd_reply *r);

struct api_server {
	struct loop *loop;
	const struct api_ops *ops;
	void *opaque;
	struct socket_listener listener;
	struct httpd http; /* its mhd_fd and timer_fd watched on the loop */
};

/*
 * Serves the API at path (a new owner-only UNIX socket; see socket_listen)
 * on loop. Returns 0 or -errno with a message in err.
 */
int api_server_open(struct api_server *s, struct loop *loop, const char *path,
		    const struct api_ops *ops, void *opaque, char *err,
		    size_t errlen);
/*
 * Stops taking connections, lets responses already queued go out (at most
 * API_DRAIN_MS), closes every connection and removes the socket file.
 */
void api_server_close(struct api_server *s);

#endif
