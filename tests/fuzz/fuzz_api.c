// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the control API's routing and request validation
 * (api_handle in control/api.c), against a fake VM.
 *
 * Client-controlled here: the method, the path and the body (any bytes,
 * NULs included). Checked: no crash, leak or undefined behaviour
 * (ASan/UBSan); every reply has a status from the documented set and a
 * body that is a JSON object, an error reply being exactly {"error":
 * string}; the fake VM is only acted on by a request that was accepted.
 *
 * Input layout:
 *   byte 0      the method: an index into methods[] (mod its size)
 *   byte 1      flags: bit 0 the fake VM starts paused, bits 1-2 pick an
 *               error for every VM operation (none, -EALREADY, -ESRCH, -EIO)
 *   then        the path, up to the first '\n' (or the end)
 *   the rest    the body
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/api.h"
#include "util/log.h"

struct fake {
	bool paused;
	int fail;
	unsigned int actions; /* calls that may change the VM */
};

static int f_info(void *opaque, struct api_vm_info *out)
{
	struct fake *f = opaque;

	if (f->fail && f->fail != -EALREADY)
		return f->fail;
	*out = (struct api_vm_info){
		.state = f->paused ? API_VM_PAUSED : API_VM_RUNNING,
		.pid = 1,
		.vcpus = 1,
		.memory_mib = 16,
		.console = "serial",
	};
	return 0;
}

static int f_pause(void *opaque)
{
	struct fake *f = opaque;

	f->actions++;
	if (f->fail)
		return f->fail;
	if (f->paused)
		return -EALREADY;
	f->paused = true;
	return 0;
}

static int f_resume(void *opaque)
{
	struct fake *f = opaque;

	f->actions++;
	if (f->fail)
		return f->fail;
	if (!f->paused)
		return -EALREADY;
	f->paused = false;
	return 0;
}

static int f_action(void *opaque)
{
	struct fake *f = opaque;

	f->actions++;
	return f->fail;
}

static int f_stats(void *opaque, struct vm_stats *out)
{
	struct fake *f = opaque;

	if (f->fail && f->fail != -EALREADY)
		return f->fail;
	out->nr_vcpus = 1;
	out->nr_disks = 1;
	memcpy(out->disks[0].name, "virtio-blk0", 12);
	return 0;
}

static const struct api_ops ops = {
	.info = f_info,
	.pause = f_pause,
	.resume = f_resume,
	.power_button = f_action,
	.reboot = f_action,
	.stop = f_action,
	.stats = f_stats,
};

static const char *const methods[] = { "GET",	  "PUT",    "PATCH",
				       "POST",	  "DELETE", "HEAD",
				       "OPTIONS", "get",    "PUT " };

static bool status_ok(unsigned int s)
{
	switch (s) {
	case 200:
	case 202:
	case 400:
	case 404:
	case 405:
	case 409:
	case 500:
	case 503:
		return true;
	default:
		return false;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int errors[] = { 0, -EALREADY, -ESRCH, -EIO };
	struct fake f = { .paused = false };
	const uint8_t *nl;
	const char *method;
	struct httpd_reply r;
	char *path;
	size_t plen;
	json_t *j;

	if (size < 2)
		return 0;
	log_threshold = LOG_ERROR;
	method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	f.paused = data[1] & 1;
	f.fail = errors[(data[1] >> 1) & 3];
	data += 2;
	size -= 2;
	nl = memchr(data, '\n', size);
	plen = nl ? (size_t)(nl - data) : size;
	path = malloc(plen + 1);
	if (!path)
		return 0;
	memcpy(path, data, plen);
	path[plen] = '\0'; /* MHD hands over a C string */
	data += plen;
	size -= plen;
	if (size) {
		data++; /* the '\n' */
		size--;
	}
	api_handle(&ops, &f, method, path, (const char *)data, size, &r);
	if (!status_ok(r.status) || !r.body)
		abort();
	j = json_loads(r.body, 0, NULL);
	if (!json_is_object(j))
		abort();
	if (r.status >= 400 && (json_object_size(j) != 1 ||
				!json_is_string(json_object_get(j, "error"))))
		abort();
	if (r.status == 405 && !r.allow)
		abort();
	/* Refused requests never reached the VM. */
	if ((r.status == 400 || r.status == 404 || r.status == 405) &&
	    f.actions)
		abort();
	json_decref(j);
	free(r.body);
	free(path);
	return 0;
}
