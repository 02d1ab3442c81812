/* SPDX-License-Identifier: MIT */
/*
 * Domain configurations: a file in Xen's xl.cfg(5) syntax (xlcfg.h) or a
 * JSON object with the same keys, checked and turned into a struct
 * domain_config: the VM's struct vm_config plus what the toolstack needs
 * (name, UUID, lifecycle actions, autostart).
 *
 * Every key is in one table in domcfg.c: supported, Xen-only (a warning:
 * ignored) or refused (an error: the guest would miss something it was
 * promised). docs/config.md lists them. Messages name the file, the
 * line (xl syntax; JSON has no positions, so the key path names the place)
 * and the key: "dom.cfg:7: unknown key 'memroy' (did you mean 'memory'?)".
 *
 * The input is untrusted (an API client may send it): sizes are bounded by
 * xlcfg.h's limits and CONFIG_MAX_DISKS and the like, and nothing here
 * touches the files named in it.
 */
#ifndef MICA_TOOLSTACK_DOMCFG_H
#define MICA_TOOLSTACK_DOMCFG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define DOMCFG_NAME_MAX 63
#define DOMCFG_VDEV_MAX 15
#define DOMCFG_MSG_MAX 512
#define DOMCFG_MAX_WARNINGS 32
#define DOMCFG_DEFAULT_MEMORY_MIB 512

/* What happens when the guest powers off, reboots or crashes. */
enum domain_action {
	DOMAIN_DESTROY, /* the domain ends and its VMM exits */
	DOMAIN_RESTART, /* the VM is built again from the same config */
	DOMAIN_PRESERVE, /* kept, stopped, until destroyed by hand */
};

struct domain_config {
	char name[DOMCFG_NAME_MAX + 1];
	uint8_t uuid[16];
	bool has_uuid; /* false: micad assigns one */

	/*
	 * vm.kernel, vm.initrd and vm.cmdline point at the strings below,
	 * which this struct owns. vm.disks are in guest order (vdev order,
	 * then disks without a vdev in the order written).
	 */
	struct vm_config vm;
	char disk_vdev[CONFIG_MAX_DISKS][DOMCFG_VDEV_MAX + 1]; /* "" if none */

	enum domain_action on_poweroff, on_reboot, on_crash;
	bool autostart; /* start when micad starts */

	char *path; /* the file it was read from, or NULL */
	char *warnings; /* the warnings, one per line, or NULL */

	/* Owned storage behind vm.kernel, vm.initrd, vm.cmdline. */
	char *kernel, *ramdisk, *cmdline;
};

/* What parsing had to say: warnings, and the error when it failed. */
struct domcfg_msgs {
	char error[DOMCFG_MSG_MAX]; /* "" when there was none */
	char warnings[DOMCFG_MAX_WARNINGS][DOMCFG_MSG_MAX];
	unsigned int nr_warnings;
	unsigned int dropped_warnings; /* beyond DOMCFG_MAX_WARNINGS */
};

enum domcfg_format {
	DOMCFG_AUTO, /* JSON if the first non-blank character is '{' */
	DOMCFG_XL,
	DOMCFG_JSON,
};

/*
 * Parses text (len bytes) as a domain configuration. filename is used in
 * messages only (e.g. "dom.cfg", or "request" for an API body). Returns 0
 * with *out filled (free it with domcfg_free()); -EINVAL for a bad
 * configuration and -EFBIG for one beyond a limit, both with msgs->error
 * set; -ENOMEM. On failure *out holds nothing to free. msgs may be NULL.
 */
int domcfg_parse(const char *text, size_t len, const char *filename,
		 enum domcfg_format fmt, struct domain_config *out,
		 struct domcfg_msgs *msgs);

/*
 * Reads and parses a file (at most XLCFG_MAX_TEXT bytes), JSON or xl
 * syntax as DOMCFG_AUTO decides; out->path is set. Errors as
 * domcfg_parse(), plus -errno of open() or read() with the message naming
 * the file.
 */
int domcfg_load(const char *path, struct domain_config *out,
		struct domcfg_msgs *msgs);

/* The same checks for a JSON object already in memory (an API request). */
int domcfg_from_json(const json_t *obj, const char *filename,
		     struct domain_config *out, struct domcfg_msgs *msgs);

/*
 * The canonical JSON of a domain: every key with its effective value
 * (defaults made explicit, cmdline composed), disks and interfaces as spec
 * strings. domcfg_from_json() of it gives the same domain back. Returns a
 * new reference, or NULL when out of memory.
 */
json_t *domcfg_to_json(const struct domain_config *cfg);

void domcfg_free(struct domain_config *cfg);

/* "destroy", "restart", "preserve". */
const char *domcfg_action_name(enum domain_action action);

/* Canonical 8-4-4-4-12 lower-case hex; buf holds at least 37 bytes. */
void domcfg_uuid_format(const uint8_t uuid[16], char *buf);
int domcfg_uuid_parse(const char *s, uint8_t uuid[16]);

#endif
