// SPDX-License-Identifier: MIT
/*
 * Domain configurations (xl.cfg(5) keys, in xl syntax or JSON) checked and
 * turned into a struct domain_config. The keys follow xl.cfg(5), disks
 * xl-disk-configuration(5) and interfaces xl-network-configuration(5), as
 * far as they mean something on mica; see docs/config.md for every
 * key and how it maps.
 *
 * The whole input is untrusted: both syntaxes are first read into the same
 * generic settings (xlcfg.h), so one set of checks serves both, and every
 * list is bounded by the VM's own limits (CONFIG_MAX_DISKS, ...). Device
 * specs are finally handed to config/devopts.c, the same parser "mica run"
 * uses for --disk and --net, so a key means the same thing in both places.
 */
#include "toolstack/domcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "config/devopts.h"
#include "toolstack/xlcfg.h"

#define DEFAULT_CMDLINE "console=ttyS0"
#define DEFAULT_CMDLINE_VIRTIO "console=hvc0"
#define MIB (1ull << 20)

/* Disks without a vdev go after those with one, in the order written. */
#define NO_VDEV_KEY 100000u

struct ctx {
	const char *file; /* for messages */
	struct domain_config *out;
	struct domcfg_msgs *msgs;
	size_t warnings_len;
	unsigned int nr_warnings;

	/* Values kept for the checks made once every key is read. */
	const struct xlcfg_value *maxmem, *maxvcpus;
	uint64_t maxmem_mib, maxvcpus_n;
	const struct xlcfg_value *cmdline, *root, *extra, *serial, *console;
	bool serial_pty;
	unsigned int disk_key[CONFIG_MAX_DISKS]; /* sort key: vdev order */
	unsigned int disk_line[CONFIG_MAX_DISKS];
	bool mac_given[CONFIG_MAX_NETS];
	unsigned int net_line[CONFIG_MAX_NETS];
};

/* Control characters from the input never reach a terminal through us. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void format_msg(struct ctx *c, char *buf, unsigned int line,
		       unsigned int col, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static void format_msg(struct ctx *c, char *buf, unsigned int line,
		       unsigned int col, const char *fmt, va_list ap)
{
	int n;

	if (line && col)
		n = snprintf(buf, DOMCFG_MSG_MAX, "%s:%u:%u: ", c->file, line,
			     col);
	else if (line)
		n = snprintf(buf, DOMCFG_MSG_MAX, "%s:%u: ", c->file, line);
	else
		n = snprintf(buf, DOMCFG_MSG_MAX, "%s: ", c->file);
	if (n < 0)
		n = 0;
	if (n < DOMCFG_MSG_MAX)
		vsnprintf(buf + n, DOMCFG_MSG_MAX - (size_t)n, fmt, ap);
	sanitize(buf);
}

static int fail_at(struct ctx *c, int rc, unsigned int line, unsigned int col,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Records the error (the first one only) and returns rc. */
static int fail_at(struct ctx *c, int rc, unsigned int line, unsigned int col,
		   const char *fmt, ...)
{
	va_list ap;

	if (c->msgs && !c->msgs->error[0]) {
		va_start(ap, fmt);
		format_msg(c, c->msgs->error, line, col, fmt, ap);
		va_end(ap);
	}
	return rc;
}

#define fail_rc(c, rc, line, ...) fail_at(c, rc, line, 0, __VA_ARGS__)
#define fail(c, line, ...) fail_at(c, -EINVAL, line, 0, __VA_ARGS__)

static int warn(struct ctx *c, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records a warning in msgs and in out->warnings. Returns 0 or -ENOMEM. */
static int warn(struct ctx *c, unsigned int line, const char *fmt, ...)
{
	char buf[DOMCFG_MSG_MAX];
	size_t len;
	char *w;
	va_list ap;

	va_start(ap, fmt);
	format_msg(c, buf, line, 0, fmt, ap);
	va_end(ap);
	if (c->nr_warnings >= DOMCFG_MAX_WARNINGS) {
		if (c->msgs)
			c->msgs->dropped_warnings++;
		return 0;
	}
	if (c->msgs)
		memcpy(c->msgs->warnings[c->msgs->nr_warnings++], buf,
		       sizeof(buf));
	c->nr_warnings++;
	len = strlen(buf);
	w = realloc(c->out->warnings, c->warnings_len + len + 2);
	if (!w)
		return -ENOMEM;
	memcpy(w + c->warnings_len, buf, len);
	w[c->warnings_len + len] = '\n';
	w[c->warnings_len + len + 1] = '\0';
	c->out->warnings = w;
	c->warnings_len += len + 1;
	return 0;
}

/* "'lots'", "the number 12", "a list": what a value is, for messages. */
static const char *describe(const struct xlcfg_value *v, char *buf, size_t len)
{
	switch (v->type) {
	case XLCFG_STRING:
		snprintf(buf, len, "'%.40s%s'", v->str,
			 v->len > 40 ? "..." : "");
		break;
	case XLCFG_NUMBER:
		snprintf(buf, len, "the number %.24s", v->str);
		break;
	case XLCFG_BOOL:
		snprintf(buf, len, "%s", v->boolean ? "true" : "false");
		break;
	case XLCFG_LIST:
		snprintf(buf, len, "a list");
		break;
	}
	return buf;
}

static int want_string(struct ctx *c, const char *key,
		       const struct xlcfg_value *v, const char *what)
{
	char buf[64];

	if (v->type == XLCFG_STRING)
		return 0;
	return fail(c, v->line, "%s: expected %s in quotes, not %s", key, what,
		    describe(v, buf, sizeof(buf)));
}

/*
 * A whole number in [min, max]. xl reads a quoted number the same as a
 * bare one ('512' is 512), and so do we.
 */
static int get_uint(struct ctx *c, const char *key, const struct xlcfg_value *v,
		    uint64_t min, uint64_t max, const char *what, uint64_t *out)
{
	char buf[64];
	uint64_t n;

	if (v->type == XLCFG_NUMBER)
		n = v->num;
	else if (v->type != XLCFG_STRING ||
		 xlcfg_parse_number(v->str, v->len, &n))
		return fail(c, v->line, "%s: expected %s, not %s", key, what,
			    describe(v, buf, sizeof(buf)));
	if (n < min || n > max)
		return fail(c, v->line, "%s: %s is out of range (%llu to %llu)",
			    key, describe(v, buf, sizeof(buf)),
			    (unsigned long long)min, (unsigned long long)max);
	*out = n;
	return 0;
}

static int get_bool(struct ctx *c, const char *key, const struct xlcfg_value *v,
		    bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	char buf[64];
	unsigned int i;

	if (v->type == XLCFG_BOOL) {
		*out = v->boolean;
		return 0;
	}
	/* xl.cfg(5): a BOOLEAN is a number, 0 false and anything else true */
	if (v->type == XLCFG_NUMBER) {
		*out = v->num != 0;
		return 0;
	}
	for (i = 0; v->type == XLCFG_STRING && i < 4; i++) {
		if (!strcmp(v->str, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(v->str, no[i])) {
			*out = false;
			return 0;
		}
	}
	return fail(c, v->line, "%s: expected 1 or 0 (true or false), not %s",
		    key, describe(v, buf, sizeof(buf)));
}

/* A path to a file: a non-empty string that fits CONFIG_PATH_MAX. */
static int get_path(struct ctx *c, const char *key, const struct xlcfg_value *v,
		    char **out)
{
	int rc = want_string(c, key, v, "a path");

	if (rc)
		return rc;
	if (!v->len)
		return fail(c, v->line, "%s: empty path", key);
	if (v->len >= CONFIG_PATH_MAX)
		return fail(c, v->line, "%s: path longer than %d bytes", key,
			    CONFIG_PATH_MAX - 1);
	*out = strdup(v->str);
	return *out ? 0 : -ENOMEM;
}

/* Strings are UTF-8, so that the canonical JSON can hold them. */
static bool valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char b = p[i];
		unsigned int n, cp, k;

		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf) {
			n = 1;
			cp = b & 0x1f;
		} else if (b >= 0xe0 && b <= 0xef) {
			n = 2;
			cp = b & 0x0f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			n = 3;
			cp = b & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3fu);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

static int check_utf8(struct ctx *c, const char *key,
		      const struct xlcfg_value *v)
{
	unsigned int i;
	int rc;

	if (v->type == XLCFG_STRING && !valid_utf8(v->str, v->len))
		return fail(c, v->line, "%s: a string that is not UTF-8", key);
	for (i = 0; i < v->nr_items; i++)
		if ((rc = check_utf8(c, key, &v->items[i])))
			return rc;
	return 0;
}

/* ---- the keys ---------------------------------------------------------- */

/* 1-63 of [A-Za-z0-9_.-], not starting with '.' or '-', not all digits. */
static bool valid_name(const char *s, size_t len)
{
	bool digits_only = true;
	size_t i;

	if (len < 1 || len > DOMCFG_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (ch >= '0' && ch <= '9')
			continue;
		digits_only = false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return !digits_only;
}

static int h_name(struct ctx *c, const struct xlcfg_setting *s)
{
	const struct xlcfg_value *v = &s->value;
	int rc = want_string(c, s->key, v, "a name");

	if (rc)
		return rc;
	if (!valid_name(v->str, v->len))
		return fail(c, v->line,
			    "name: '%.70s' is not a valid domain name: use 1 "
			    "to %d letters, digits, '_', '.' and '-', not "
			    "starting with '.' or '-' and not only digits",
			    v->str, DOMCFG_NAME_MAX);
	memcpy(c->out->name, v->str, v->len + 1);
	return 0;
}

static int hex_val(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int domcfg_uuid_parse(const char *s, uint8_t uuid[16])
{
	unsigned int i, n = 0;

	if (strlen(s) != 36)
		return -EINVAL;
	for (i = 0; i < 36; i += 2) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			i--; /* the loop adds 2: next pair starts after '-' */
			continue;
		}
		hi = hex_val(s[i]);
		lo = hex_val(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		uuid[n++] = (uint8_t)(hi << 4 | lo);
	}
	return n == 16 ? 0 : -EINVAL;
}

void domcfg_uuid_format(const uint8_t u[16], char *buf)
{
	snprintf(buf, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

static int h_uuid(struct ctx *c, const struct xlcfg_setting *s)
{
	static const uint8_t nil[16];
	const struct xlcfg_value *v = &s->value;
	int rc = want_string(c, s->key, v, "a UUID");

	if (rc)
		return rc;
	if (domcfg_uuid_parse(v->str, c->out->uuid))
		return fail(c, v->line,
			    "uuid: '%.40s' is not a UUID; expected "
			    "8-4-4-4-12 hex digits, e.g. "
			    "6f3c2a1e-5b7d-4e2f-9a10-3c4d5e6f7a8b",
			    v->str);
	if (!memcmp(c->out->uuid, nil, 16))
		return fail(c, v->line, "uuid: the nil UUID is not a domain's");
	c->out->has_uuid = true;
	return 0;
}

static int h_memory(struct ctx *c, const struct xlcfg_setting *s)
{
	uint64_t mib;
	int rc = get_uint(c, s->key, &s->value, CONFIG_MIN_MEMORY / MIB,
			  CONFIG_MAX_MEMORY / MIB, "a number of MiB", &mib);

	if (rc)
		return rc;
	c->out->vm.memory = mib * MIB;
	return 0;
}

static int h_maxmem(struct ctx *c, const struct xlcfg_setting *s)
{
	c->maxmem = &s->value;
	return get_uint(c, s->key, &s->value, 0, CONFIG_MAX_MEMORY / MIB * 16,
			"a number of MiB", &c->maxmem_mib);
}

static int h_vcpus(struct ctx *c, const struct xlcfg_setting *s)
{
	uint64_t n;
	int rc = get_uint(c, s->key, &s->value, 1, CONFIG_MAX_CPUS,
			  "a number of vCPUs", &n);

	if (rc)
		return rc;
	c->out->vm.cpus = (unsigned int)n;
	return 0;
}

static int h_maxvcpus(struct ctx *c, const struct xlcfg_setting *s)
{
	c->maxvcpus = &s->value;
	return get_uint(c, s->key, &s->value, 1, CONFIG_MAX_CPUS,
			"a number of vCPUs", &c->maxvcpus_n);
}

static int h_kernel(struct ctx *c, const struct xlcfg_setting *s)
{
	return get_path(c, s->key, &s->value, &c->out->kernel);
}

static int h_ramdisk(struct ctx *c, const struct xlcfg_setting *s)
{
	return get_path(c, s->key, &s->value, &c->out->ramdisk);
}

/* cmdline, root, extra: composed once all keys are read. */
static int h_cmdline_part(struct ctx *c, const struct xlcfg_setting *s)
{
	const struct xlcfg_value *v = &s->value;
	int rc = want_string(c, s->key, v, "a string");

	if (rc)
		return rc;
	if (v->len > LAYOUT_CMDLINE_MAX - 1)
		return fail(c, v->line, "%s: longer than %llu bytes", s->key,
			    LAYOUT_CMDLINE_MAX - 1);
	if (!strcmp(s->key, "cmdline"))
		c->cmdline = v;
	else if (!strcmp(s->key, "root"))
		c->root = v;
	else
		c->extra = v;
	return 0;
}

static int parse_action(struct ctx *c, const struct xlcfg_setting *s,
			enum domain_action *out)
{
	const struct xlcfg_value *v = &s->value;
	int rc = want_string(c, s->key, v, "an action");

	if (rc)
		return rc;
	if (!strcmp(v->str, "destroy")) {
		*out = DOMAIN_DESTROY;
	} else if (!strcmp(v->str, "restart")) {
		*out = DOMAIN_RESTART;
	} else if (!strcmp(v->str, "preserve")) {
		*out = DOMAIN_PRESERVE;
	} else if (!strcmp(v->str, "coredump-destroy") ||
		   !strcmp(v->str, "coredump-restart")) {
		*out = v->str[9] == 'd' ? DOMAIN_DESTROY : DOMAIN_RESTART;
		return warn(c, v->line,
			    "%s: mica writes no core dumps yet; "
			    "'%s' is done as '%s'",
			    s->key, v->str, v->str + 9);
	} else if (!strcmp(v->str, "rename-restart")) {
		return fail(c, v->line,
			    "%s: 'rename-restart' is not supported (names "
			    "are unique and kept); use 'restart', or "
			    "'preserve' to keep the old domain",
			    s->key);
	} else if (!strcmp(v->str, "soft-reset")) {
		return fail(c, v->line,
			    "%s: 'soft-reset' is a Xen kexec mechanism, not "
			    "supported; use 'restart'",
			    s->key);
	} else {
		return fail(c, v->line,
			    "%s: unknown action '%.40s' (expected destroy, "
			    "restart or preserve)",
			    s->key, v->str);
	}
	return 0;
}

static int h_action(struct ctx *c, const struct xlcfg_setting *s)
{
	struct domain_config *o = c->out;

	if (!strcmp(s->key, "on_poweroff"))
		return parse_action(c, s, &o->on_poweroff);
	if (!strcmp(s->key, "on_reboot"))
		return parse_action(c, s, &o->on_reboot);
	return parse_action(c, s, &o->on_crash);
}

static int h_autostart(struct ctx *c, const struct xlcfg_setting *s)
{
	return get_bool(c, s->key, &s->value, &c->out->autostart);
}

/* serial = 'pty' or [ 'pty' ]: COM1 is the domain's console. */
static int h_serial(struct ctx *c, const struct xlcfg_setting *s)
{
	const struct xlcfg_value *v = &s->value;
	int rc;

	if (v->type == XLCFG_LIST) {
		if (v->nr_items == 0)
			return 0;
		if (v->nr_items > 1)
			return fail(c, v->line,
				    "serial: mica has one serial port, not %u",
				    v->nr_items);
		v = &v->items[0];
	}
	rc = want_string(c, s->key, v, "'pty'");
	if (rc)
		return rc;
	if (strcmp(v->str, "pty"))
		return fail(c, v->line,
			    "serial: '%.40s' is not supported: mica's serial "
			    "port is the domain's console, serial = 'pty' "
			    "(reach it with 'mica console')",
			    v->str);
	c->serial = v;
	c->serial_pty = true;
	return 0;
}

/* console = 'serial' | 'virtio', as "mica run --console" */
static int h_console(struct ctx *c, const struct xlcfg_setting *s)
{
	const struct xlcfg_value *v = &s->value;
	char err[DOMCFG_MSG_MAX] = "";
	int rc = want_string(c, s->key, v, "'serial' or 'virtio'");

	if (rc)
		return rc;
	c->console = v;
	if (devopts_parse_console("console", v->str, &c->out->vm.console, err,
				  sizeof(err)))
		return fail(c, v->line, "%s", err);
	return 0;
}

/* rng = 'on' | 'off' | 'rate=SIZE', as "mica run --rng" */
static int h_rng(struct ctx *c, const struct xlcfg_setting *s)
{
	const struct xlcfg_value *v = &s->value;
	char err[DOMCFG_MSG_MAX] = "";
	int rc = want_string(c, s->key, v, "'on', 'off' or 'rate=SIZE'");

	if (rc)
		return rc;
	if (devopts_parse_rng("rng", v->str, &c->out->vm.rng_rate, err,
			      sizeof(err)))
		return fail(c, v->line, "%s", err);
	return 0;
}

/*
 * cpus: xl's list form pins vCPU i to the i-th entry, which is mica's
 * model (round-robin when the list is shorter). A single CPU pins all
 * vCPUs to it, "all" pins none. Sets of CPUs per vCPU ("0-3", "nodes:0")
 * cannot be expressed: refused with a hint.
 */
static int cpu_number(struct ctx *c, const struct xlcfg_value *v,
		      unsigned short *out)
{
	char buf[64];
	uint64_t n;

	if (v->type == XLCFG_NUMBER)
		n = v->num;
	else if (v->type != XLCFG_STRING ||
		 xlcfg_parse_number(v->str, v->len, &n))
		return fail(c, v->line,
			    "cpus: %s: mica pins each vCPU to one host CPU; "
			    "give one CPU per vCPU, e.g. cpus = [0, 1]",
			    describe(v, buf, sizeof(buf)));
	if (n > CONFIG_MAX_HOST_CPU)
		return fail(c, v->line, "cpus: CPU %llu is above %u",
			    (unsigned long long)n, CONFIG_MAX_HOST_CPU);
	*out = (unsigned short)n;
	return 0;
}

static int h_cpus(struct ctx *c, const struct xlcfg_setting *s)
{
	const struct xlcfg_value *v = &s->value;
	struct vm_config *vm = &c->out->vm;
	unsigned int i;
	int rc;

	vm->nr_vcpu_affinity = 0;
	if (v->type == XLCFG_STRING && !strcmp(v->str, "all"))
		return 0;
	if (v->type != XLCFG_LIST)
		return cpu_number(c, v,
				  &vm->vcpu_affinity[vm->nr_vcpu_affinity++]);
	if (v->nr_items > CONFIG_MAX_CPUS)
		return fail(c, v->line, "cpus: more than %u entries",
			    CONFIG_MAX_CPUS);
	for (i = 0; i < v->nr_items; i++) {
		rc = cpu_number(c, &v->items[i], &vm->vcpu_affinity[i]);
		if (rc)
			return rc;
		vm->nr_vcpu_affinity = i + 1;
	}
	return 0;
}

static int h_type(struct ctx *c, const struct xlcfg_setting *s)
{
	const struct xlcfg_value *v = &s->value;
	int rc = want_string(c, s->key, v, "'pvh', 'pv' or 'hvm'");

	if (rc)
		return rc;
	if (!strcmp(v->str, "pvh"))
		return 0;
	if (!strcmp(v->str, "pv"))
		return warn(c, v->line,
			    "type: mica boots kernel= as a KVM guest (like "
			    "'pvh'); a stock kernel needs no Xen support, "
			    "and Xen PV devices are not there");
	if (!strcmp(v->str, "hvm"))
		return warn(c, v->line,
			    "type: 'hvm' domains boot firmware on Xen; mica "
			    "has none and boots kernel= directly");
	return fail(c, v->line, "type: unknown type '%.40s' (expected pvh)",
		    v->str);
}

/* ---- disks: xl-disk-configuration(5) ----------------------------------- */

enum { POS_TARGET, POS_FORMAT, POS_VDEV, POS_ACCESS, NR_POS };
static const char *const pos_name[NR_POS] = { "target", "format", "vdev",
					      "access" };

/*
 * xvdX, hdX, sdX (Xen) or vdX (mica): the disk's place in the guest's
 * order, with letters counted as a, b, ..., z, aa, ab, ...
 */
static int vdev_index(struct ctx *c, const char *label, unsigned int line,
		      const char *s, unsigned int *index)
{
	static const char *const prefixes[] = { "xvd", "hd", "sd", "vd" };
	unsigned int i, n = 0, letters = 0;
	const char *p = NULL;

	for (i = 0; i < 4 && !p; i++)
		if (!strncmp(s, prefixes[i], strlen(prefixes[i])))
			p = s + strlen(prefixes[i]);
	if (p)
		for (; *p >= 'a' && *p <= 'z' && letters < 3; p++, letters++)
			n = n * 26 + (unsigned int)(*p - 'a' + 1);
	if (!p || !letters || (*p && !(*p >= '0' && *p <= '9')) ||
	    strlen(s) > DOMCFG_VDEV_MAX)
		return fail(c, line,
			    "%s: vdev '%.20s' is not a disk name; expected "
			    "xvdX, hdX, sdX or vdX, e.g. xvda",
			    label, s);
	if (*p)
		return fail(c, line,
			    "%s: vdev '%.20s' names a partition; mica gives "
			    "guests whole disks (write '%.*s')",
			    label, s, (int)(p - s), s);
	*index = n - 1;
	return 0;
}

/*
 * The deprecated xm prefixes of a positional target ("phy:/dev/vg/lv",
 * "tap:aio:/img", "qcow2:/img"). They say the format; xl then assigns
 * the following positional parameters to vdev and access, which the
 * "next unspecified position" rule does by itself once format is set.
 */
static char *strip_prefixes(char *target, const char **format)
{
	static const struct {
		const char *prefix;
		const char *format; /* NULL: says nothing of the format */
	} pre[] = {
		{ "phy:", "raw" },     { "file:", "raw" }, { "tap:", NULL },
		{ "tap2:", NULL },     { "aio:", "raw" },  { "ioemu:", NULL },
		{ "tapdisk:", NULL },  { "raw:", "raw" },  { "qcow:", "qcow" },
		{ "qcow2:", "qcow2" }, { "vhd:", "vhd" },  { "qed:", "qed" },
	};
	unsigned int i, rounds;
	bool stripped = true;

	for (rounds = 0; rounds < 4 && stripped; rounds++) {
		stripped = false;
		for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
			size_t n = strlen(pre[i].prefix);

			if (strncmp(target, pre[i].prefix, n))
				continue;
			target += n;
			if (pre[i].format || !*format)
				*format = pre[i].format ? pre[i].format : "raw";
			stripped = true;
			break;
		}
	}
	return target;
}

/*
 * Appends ",KEY=VALUE" to a spec for devopts. The buffer is sized from the
 * input, which holds each KEY=VALUE once, so it cannot overflow; were it
 * ever cut short, devopts would refuse the spec.
 */
static void spec_add(char *spec, size_t size, const char *key,
		     const char *value)
{
	size_t n = strlen(spec);

	if (n < size)
		snprintf(spec + n, size - n, ",%s=%s", key, value);
}

static int parse_disk(struct ctx *c, const struct xlcfg_value *v,
		      unsigned int idx)
{
	struct domain_config *o = c->out;
	struct disk_config *d = &o->vm.disks[idx];
	char *param[NR_POS] = { NULL };
	const char *format = NULL; /* param[POS_FORMAT], or a prefix's */
	bool given[NR_POS] = { false };
	unsigned int line = v->line, k;
	char label[32], *copy = NULL, *spec = NULL, *p;
	char err[DOMCFG_MSG_MAX];
	size_t speclen;
	int rc;

	snprintf(label, sizeof(label), "disk[%u]", idx);
	if (v->type != XLCFG_STRING)
		return fail(c, line,
			    "%s: expected a disk spec in quotes, e.g. "
			    "'/srv/dom.img,raw,xvda,rw'",
			    label);
	copy = strdup(v->str);
	/* devopts's spec: "path=-" and the mica keys, each shorter. */
	speclen = v->len + 16;
	spec = malloc(speclen);
	if (!copy || !spec) {
		rc = -ENOMEM;
		goto out;
	}
	strcpy(spec, "path=-");
	for (p = copy;;) {
		char *comma, *eq;

		while (*p == ' ' || *p == '\t')
			p++;
		/* target= takes the rest, commas and all: it must be last. */
		if (!strncmp(p, "target=", 7)) {
			if (given[POS_TARGET]) {
				rc = fail(c, line, "%s: target given twice",
					  label);
				goto out;
			}
			param[POS_TARGET] = p + 7;
			given[POS_TARGET] = true;
			break;
		}
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		eq = strchr(p, '=');
		if (eq) {
			char *key = p, *val = eq + 1;

			*eq = '\0';
			for (k = 0; k < NR_POS; k++)
				if (!strcmp(key, pos_name[k]))
					break;
			if (k < NR_POS) {
				if (given[k]) {
					rc = fail(c, line, "%s: %s given twice",
						  label, key);
					goto out;
				}
				param[k] = val;
				given[k] = true;
			} else if (!strcmp(key, "devtype")) {
				if (!strcmp(val, "cdrom"))
					goto cdrom;
				if (*val && strcmp(val, "disk")) {
					rc = fail(c, line,
						  "%s: devtype '%.20s' is "
						  "unknown (expected disk)",
						  label, val);
					goto out;
				}
			} else if (!strcmp(key, "backend") ||
				   !strcmp(key, "backendtype") ||
				   !strcmp(key, "script")) {
				rc = warn(c, line,
					  "%s: %s= is Xen-only, ignored "
					  "(mica serves the image itself)",
					  label, key);
				if (rc)
					goto out;
			} else if (!strcmp(key, "serial") ||
				   !strcmp(key, "cache") ||
				   !strcmp(key, "queues")) {
				spec_add(spec, speclen, key, val);
			} else {
				rc = fail(c, line,
					  "%s: unknown key '%.32s' (known: "
					  "target, format, vdev, access, "
					  "devtype, serial, cache, queues)",
					  label, key);
				goto out;
			}
		} else if (!strcmp(p, "cdrom")) {
			goto cdrom;
		} else if (!strcmp(p, "discard")) {
			/* mica offers discard on writable disks anyway */
		} else if (!strcmp(p, "no-discard") ||
			   !strcmp(p, "direct-io-safe") ||
			   !strcmp(p, "trusted") || !strcmp(p, "untrusted")) {
			rc = warn(c, line, "%s: flag '%s' is Xen-only, ignored",
				  label, p);
			if (rc)
				goto out;
		} else {
			/* A positional parameter: the next unspecified one. */
			for (k = 0; k < NR_POS && given[k]; k++)
				;
			if (k == NR_POS) {
				rc = fail(c, line,
					  "%s: '%.40s' is one parameter too "
					  "many (positions: target, format, "
					  "vdev, access)",
					  label, p);
				goto out;
			}
			if (k == POS_TARGET) {
				const char *pre = NULL;

				p = strip_prefixes(p, &pre);
				if (pre && !given[POS_FORMAT]) {
					format = pre;
					given[POS_FORMAT] = true;
				}
			}
			param[k] = p;
			given[k] = true;
		}
		if (!comma)
			break;
		p = comma + 1;
	}

	if (param[POS_FORMAT])
		format = param[POS_FORMAT];
	/* Empty values mean the default, as if not given. */
	if (param[POS_VDEV] && *param[POS_VDEV]) {
		char *colon = strchr(param[POS_VDEV], ':');
		unsigned int index = 0;

		/* xm's "hdc:cdrom" and "xvda:disk" */
		if (colon) {
			if (!strcmp(colon, ":cdrom"))
				goto cdrom;
			if (strcmp(colon, ":disk")) {
				rc = fail(c, line,
					  "%s: vdev '%.20s' is not a disk "
					  "name",
					  label, param[POS_VDEV]);
				goto out;
			}
			*colon = '\0';
		}
		rc = vdev_index(c, label, line, param[POS_VDEV], &index);
		if (rc)
			goto out;
		memcpy(o->disk_vdev[idx], param[POS_VDEV],
		       strlen(param[POS_VDEV]) + 1);
		c->disk_key[idx] = index;
	} else {
		c->disk_key[idx] = NO_VDEV_KEY + idx;
	}
	if (format && *format && strcmp(format, "raw")) {
		const char *f = format;

		if (!strcmp(f, "qcow") || !strcmp(f, "qcow2") ||
		    !strcmp(f, "vhd") || !strcmp(f, "qed"))
			rc = fail(c, line,
				  "%s: format '%s' is not supported yet; "
				  "mica reads raw images (convert with "
				  "'qemu-img convert -O raw')",
				  label, f);
		else
			rc = fail(c, line,
				  "%s: unknown format '%.20s' (expected raw)",
				  label, f);
		goto out;
	}
	d->readonly = false;
	if (param[POS_ACCESS] && *param[POS_ACCESS]) {
		const char *a = param[POS_ACCESS];

		if (!strcmp(a, "ro") || !strcmp(a, "r")) {
			d->readonly = true;
		} else if (strcmp(a, "rw") && strcmp(a, "w")) {
			rc = fail(c, line,
				  "%s: access '%.20s': expected rw or ro",
				  label, a);
			goto out;
		}
	}
	if (!param[POS_TARGET] || !*param[POS_TARGET]) {
		rc = fail(c, line,
			  "%s: no target (the image), e.g. "
			  "'/srv/dom.img,raw,xvda,rw' or "
			  "'vdev=xvda,target=/srv/dom.img'",
			  label);
		goto out;
	}
	if (strlen(param[POS_TARGET]) >= CONFIG_PATH_MAX) {
		rc = fail(c, line, "%s: target longer than %d bytes", label,
			  CONFIG_PATH_MAX - 1);
		goto out;
	}
	/* mica's own keys (serial, cache, queues) through devopts. */
	{
		bool ro = d->readonly;

		err[0] = '\0';
		rc = devopts_parse_disk(label, spec, d, err, sizeof(err));
		if (rc) {
			rc = fail(c, line, "%s", err);
			goto out;
		}
		d->readonly = ro;
	}
	/* devopts copied its placeholder buffer whole: no stale bytes. */
	memset(d->path, 0, sizeof(d->path));
	memcpy(d->path, param[POS_TARGET], strlen(param[POS_TARGET]) + 1);
	c->disk_line[idx] = line;
	rc = 0;
	goto out;
cdrom:
	rc = fail(c, line,
		  "%s: CD-ROM drives are not supported; mica's disks are "
		  "virtio-blk: give the image as a read-only disk "
		  "(access=ro)",
		  label);
out:
	free(copy);
	free(spec);
	return rc;
}

/*
 * A list of device specs (disk = [...], vif = [...]): at most max items,
 * each through parse; *nr counts those parsed so far.
 */
static int parse_list(struct ctx *c, const struct xlcfg_setting *s,
		      const char *example, const char *noun, unsigned int max,
		      int (*parse)(struct ctx *c, const struct xlcfg_value *v,
				   unsigned int idx),
		      unsigned int *nr)
{
	const struct xlcfg_value *v = &s->value;
	unsigned int i;
	int rc;

	if (v->type != XLCFG_LIST)
		return fail(c, v->line, "%s: expected a list, e.g. %s", s->key,
			    example);
	if (v->nr_items > max)
		return fail_rc(c, -EFBIG, v->line, "%s: %u %s; at most %u",
			       s->key, v->nr_items, noun, max);
	for (i = 0; i < v->nr_items; i++) {
		rc = parse(c, &v->items[i], i);
		if (rc)
			return rc;
		*nr = i + 1;
	}
	return 0;
}

static int h_disk(struct ctx *c, const struct xlcfg_setting *s)
{
	return parse_list(c, s, "disk = [ '/srv/dom.img,raw,xvda,rw' ]",
			  "disks", CONFIG_MAX_DISKS, parse_disk,
			  &c->out->vm.nr_disks);
}

/* ---- interfaces: xl-network-configuration(5) --------------------------- */

static int parse_vif(struct ctx *c, const struct xlcfg_value *v,
		     unsigned int idx)
{
	static const char *const xen_keys[] = {
		"script",  "backend",	"gatewaydev", "ip",	    "rate",
		"type",	   "devid",	"mtu",	      "forwarddev", "accel",
		"trusted", "untrusted", "netdev",     "colo",	    "queues",
	};
	struct net_config *net = &c->out->vm.nets[idx];
	const char *mac = NULL, *vifname = NULL, *fwd[CONFIG_MAX_HOSTFWD];
	unsigned int line = v->line, i, nr_fwd = 0;
	char label[32], *copy = NULL, *spec = NULL, *p;
	char err[DOMCFG_MSG_MAX];
	size_t speclen;
	int rc = 0;

	snprintf(label, sizeof(label), "vif[%u]", idx);
	if (v->type != XLCFG_STRING)
		return fail(c, line,
			    "%s: expected an interface spec in quotes, e.g. "
			    "'mac=00:16:3e:01:02:03,vifname=tap0'",
			    label);
	copy = strdup(v->str);
	speclen = v->len + 32;
	spec = malloc(speclen);
	if (!copy || !spec) {
		rc = -ENOMEM;
		goto out;
	}
	/* First the keys, then the spec, since its backend comes first. */
	for (p = copy; p;) {
		char *comma = strchr(p, ','), *eq, *key, *val;

		if (comma)
			*comma = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		key = p;
		p = comma ? comma + 1 : NULL;
		if (!*key)
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			rc = fail(c, line,
				  "%s: '%.40s' is not KEY=VALUE (e.g. "
				  "mac=00:16:3e:01:02:03)",
				  label, key);
			goto out;
		}
		*eq = '\0';
		val = eq + 1;
		if (!strcmp(key, "mac") || !strcmp(key, "vifname")) {
			const char **slot = key[0] == 'm' ? &mac : &vifname;

			if (*slot) {
				rc = fail(c, line, "%s: %s given twice", label,
					  key);
				goto out;
			}
			if (!*val) {
				rc = fail(c, line, "%s: %s= is empty", label,
					  key);
				goto out;
			}
			*slot = val;
		} else if (!strcmp(key, "hostfwd")) {
			if (nr_fwd == CONFIG_MAX_HOSTFWD) {
				rc = fail(c, line,
					  "%s: at most %d hostfwd rules", label,
					  CONFIG_MAX_HOSTFWD);
				goto out;
			}
			fwd[nr_fwd++] = val;
		} else if (!strcmp(key, "model")) {
			if (strcmp(val, "virtio") &&
			    strcmp(val, "virtio-net") &&
			    (rc = warn(c, line,
				       "%s: model '%.20s' is ignored: mica's "
				       "interfaces are virtio-net",
				       label, val)))
				goto out;
		} else if (!strcmp(key, "bridge")) {
			rc = warn(c, line,
				  "%s: bridge '%.20s' is ignored: mica "
				  "connects an interface to a tap device "
				  "(vifname=) or to user-mode networking (no "
				  "vifname); add the tap to the bridge "
				  "yourself",
				  label, val);
			if (rc)
				goto out;
		} else {
			for (i = 0; i < sizeof(xen_keys) / sizeof(xen_keys[0]);
			     i++)
				if (!strcmp(key, xen_keys[i]))
					break;
			if (i == sizeof(xen_keys) / sizeof(xen_keys[0])) {
				rc = fail(c, line,
					  "%s: unknown key '%.32s' (known: "
					  "mac, vifname, model, hostfwd; "
					  "Xen-only, ignored: bridge, "
					  "script, ip, rate, ...)",
					  label, key);
				goto out;
			}
			rc = warn(c, line, "%s: %s= is Xen-only, ignored",
				  label, key);
			if (rc)
				goto out;
		}
	}
	if (vifname && nr_fwd) {
		rc = fail(c, line,
			  "%s: hostfwd= needs user-mode networking; with "
			  "vifname= the interface is a tap device",
			  label);
		goto out;
	}
	/* The spec for devopts: backend first, then mac and hostfwd. */
	if (vifname)
		snprintf(spec, speclen, "tap=%s", vifname);
	else
		snprintf(spec, speclen, "user");
	if (mac)
		spec_add(spec, speclen, "mac", mac);
	for (i = 0; i < nr_fwd; i++)
		spec_add(spec, speclen, "hostfwd", fwd[i]);
	err[0] = '\0';
	rc = devopts_parse_net(label, spec, idx, net, err, sizeof(err));
	if (rc) {
		rc = fail(c, line, "%s", err);
		goto out;
	}
	c->mac_given[idx] = mac != NULL;
	c->net_line[idx] = line;
out:
	free(copy);
	free(spec);
	return rc;
}

static int h_vif(struct ctx *c, const struct xlcfg_setting *s)
{
	return parse_list(c, s, "vif = [ '' ] or vif = [ 'vifname=tap0' ]",
			  "interfaces", CONFIG_MAX_NETS, parse_vif,
			  &c->out->vm.nr_nets);
}

/* ---- the table of keys ------------------------------------------------- */

enum key_kind {
	KEY_SUPPORTED,
	KEY_XEN_ONLY, /* a warning: meaningless on mica, ignored */
	KEY_REFUSED, /* an error: the guest would miss what it asks for */
};

struct key_def {
	const char *name;
	enum key_kind kind;
	bool prefix; /* name is a prefix ("vnc" covers vnclisten, ...) */
	int (*handle)(struct ctx *c, const struct xlcfg_setting *s);
	const char *why; /* for Xen-only and refused keys */
};

#define SUPPORTED(n, h)                                        \
	{                                                      \
		.name = n, .kind = KEY_SUPPORTED, .handle = h, \
	}
#define XEN_ONLY(n, w)                                     \
	{                                                  \
		.name = n, .kind = KEY_XEN_ONLY, .why = w, \
	}
#define XEN_ONLY_PREFIX(n, w)                                              \
	{                                                                  \
		.name = n, .kind = KEY_XEN_ONLY, .prefix = true, .why = w, \
	}
#define REFUSED(n, w)                                     \
	{                                                 \
		.name = n, .kind = KEY_REFUSED, .why = w, \
	}
#define REFUSED_PREFIX(n, w)                                              \
	{                                                                 \
		.name = n, .kind = KEY_REFUSED, .prefix = true, .why = w, \
	}

static const char sched[] = "Xen scheduler setting; mica's vCPUs are "
			    "host threads (use cpus= to pin them)";
static const char no_display[] = "mica has no graphical console yet; the "
				 "console is text (mica console)";
static const char hvm_only[] = "setting for Xen's HVM device model or "
			       "firmware; mica has neither";
static const char xen_internal[] = "Xen hypervisor setting with no "
				   "meaning on KVM";

static const struct key_def keys[] = {
	SUPPORTED("name", h_name),
	SUPPORTED("uuid", h_uuid),
	SUPPORTED("memory", h_memory),
	SUPPORTED("maxmem", h_maxmem),
	SUPPORTED("vcpus", h_vcpus),
	SUPPORTED("maxvcpus", h_maxvcpus),
	SUPPORTED("cpus", h_cpus),
	SUPPORTED("kernel", h_kernel),
	SUPPORTED("ramdisk", h_ramdisk),
	SUPPORTED("cmdline", h_cmdline_part),
	SUPPORTED("root", h_cmdline_part),
	SUPPORTED("extra", h_cmdline_part),
	SUPPORTED("disk", h_disk),
	SUPPORTED("vif", h_vif),
	SUPPORTED("on_poweroff", h_action),
	SUPPORTED("on_reboot", h_action),
	SUPPORTED("on_crash", h_action),
	SUPPORTED("serial", h_serial),
	SUPPORTED("type", h_type),
	/* mica's own keys */
	SUPPORTED("autostart", h_autostart),
	SUPPORTED("console", h_console),
	SUPPORTED("rng", h_rng),

	XEN_ONLY("builder", "Xen's domain builder; mica boots kernel= "
			    "directly (type 'pvh')"),
	XEN_ONLY("pool", "Xen CPU pools"),
	XEN_ONLY("cpus_soft", sched),
	XEN_ONLY("cpu_weight", sched),
	XEN_ONLY("cap", sched),
	XEN_ONLY("on_watchdog", "mica has no watchdog device"),
	XEN_ONLY("on_soft_reset", "Xen soft reset"),
	XEN_ONLY("localtime", "mica's RTC runs in UTC"),
	XEN_ONLY("rtc_timeoffset", "mica's RTC runs in UTC"),
	XEN_ONLY("seclabel", "Xen XSM/FLASK label"),
	XEN_ONLY("init_seclabel", "Xen XSM/FLASK label"),
	XEN_ONLY("device_tree", "Arm device tree"),
	XEN_ONLY("xen_platform_pci", hvm_only),
	XEN_ONLY_PREFIX("device_model_", hvm_only),
	XEN_ONLY("dm_restrict", hvm_only),
	XEN_ONLY("stdvga", hvm_only),
	XEN_ONLY("videoram", hvm_only),
	XEN_ONLY("vga", hvm_only),
	XEN_ONLY("acpi", "mica always gives the guest ACPI tables"),
	XEN_ONLY("acpi_s3", hvm_only),
	XEN_ONLY("acpi_s4", hvm_only),
	XEN_ONLY("apic", "mica always has a local APIC and IOAPIC"),
	XEN_ONLY("pae", hvm_only),
	XEN_ONLY("hpet", hvm_only),
	XEN_ONLY("boot", hvm_only),
	XEN_ONLY("usb", hvm_only),
	XEN_ONLY("usbdevice", hvm_only),
	XEN_ONLY("soundhw", hvm_only),
	XEN_ONLY("serial_device", hvm_only),
	XEN_ONLY("viridian", "Hyper-V enlightenments for Windows"),
	XEN_ONLY("hap", xen_internal),
	XEN_ONLY("oos", xen_internal),
	XEN_ONLY("shadow_memory", xen_internal),
	XEN_ONLY("nestedhvm", xen_internal),
	XEN_ONLY("altp2m", xen_internal),
	XEN_ONLY("tsc_mode", xen_internal),
	XEN_ONLY("timer_mode", xen_internal),
	XEN_ONLY("vpt_align", xen_internal),
	XEN_ONLY("e820_host", xen_internal),
	XEN_ONLY("max_grant_frames", xen_internal),
	XEN_ONLY("max_maptrack_frames", xen_internal),
	XEN_ONLY("max_grant_version", xen_internal),
	XEN_ONLY("max_event_channels", xen_internal),
	XEN_ONLY("event_channels", xen_internal),
	XEN_ONLY("driver_domain", xen_internal),
	XEN_ONLY("claim_mode", xen_internal),
	XEN_ONLY("nomigrate", xen_internal),
	XEN_ONLY("cpuid", xen_internal),
	XEN_ONLY("vnuma", xen_internal),
	XEN_ONLY("mmio_hole", xen_internal),
	XEN_ONLY("ms_vm_genid", xen_internal),
	XEN_ONLY("suppress_vmdesc", xen_internal),
	XEN_ONLY("vkb", no_display),
	XEN_ONLY("vfb", no_display),
	XEN_ONLY("sdl", no_display),
	XEN_ONLY("opengl", no_display),
	XEN_ONLY("keymap", no_display),
	XEN_ONLY_PREFIX("vnc", no_display),
	XEN_ONLY_PREFIX("spice", no_display),
	XEN_ONLY("gfx_passthru", "PCI passthrough"),
	XEN_ONLY_PREFIX("pci_", "PCI passthrough options (pci= is refused)"),
	XEN_ONLY("rdm", "PCI passthrough"),
	XEN_ONLY("rdm_mem_boundary", "PCI passthrough"),

	REFUSED("bootloader", "mica boots a kernel directly; set kernel= "
			      "(and ramdisk=) to the guest's kernel files"),
	REFUSED("bootloader_args", "mica has no bootloader; set kernel="),
	REFUSED("firmware", "mica has no firmware; it boots kernel= "
			    "directly"),
	REFUSED("bios", "mica has no firmware; it boots kernel= directly"),
	REFUSED_PREFIX("firmware_", "mica has no firmware"),
	REFUSED("pci", "PCI passthrough is not supported"),
	REFUSED("dtdev", "device passthrough is not supported"),
	REFUSED("iomem", "device passthrough is not supported"),
	REFUSED("ioports", "device passthrough is not supported"),
	REFUSED("irqs", "device passthrough is not supported"),
	REFUSED("usbctrl", "USB is not supported"),
	REFUSED("usbdev", "USB passthrough is not supported"),
	REFUSED("vtpm", "there is no TPM device"),
	REFUSED("p9", "there is no 9pfs device"),
	REFUSED("pvcalls", "PV calls are Xen-only"),
	REFUSED("vdispl", "there is no display device"),
	REFUSED("vsnd", "there is no sound device"),
	REFUSED("channel", "there are no console channels beyond the "
			   "console"),
	REFUSED("vuart", "there is no extra UART"),
};

#define NR_KEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key_def *find_key(const char *name)
{
	unsigned int i;

	for (i = 0; i < NR_KEYS; i++) {
		if (keys[i].prefix ?
			    !strncmp(name, keys[i].name, strlen(keys[i].name)) :
			    !strcmp(name, keys[i].name))
			return &keys[i];
	}
	return NULL;
}

/* Edit distance, for "did you mean"; both strings are short keys. */
static unsigned int distance(const char *a, const char *b)
{
	unsigned int row[XLCFG_KEY_MAX + 2], i, j;
	size_t la = strlen(a), lb = strlen(b);

	if (la > XLCFG_KEY_MAX || lb > XLCFG_KEY_MAX)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		unsigned int diag = row[0], up;

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			unsigned int best = diag + (a[i - 1] != b[j - 1]);

			up = row[j];
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

static int unknown_key(struct ctx *c, const struct xlcfg_setting *s)
{
	const char *best = NULL;
	unsigned int i, d, best_d = 3;

	for (i = 0; i < NR_KEYS; i++) {
		if (keys[i].kind != KEY_SUPPORTED)
			continue;
		d = distance(s->key, keys[i].name);
		if (d < best_d && d < strlen(keys[i].name)) {
			best_d = d;
			best = keys[i].name;
		}
	}
	if (best)
		return fail(c, s->line, "unknown key '%s' (did you mean '%s'?)",
			    s->key, best);
	return fail(c, s->line,
		    "unknown key '%s' (docs/config.md lists the keys)", s->key);
}

/* ---- checks across keys ------------------------------------------------ */

/*
 * A Xen PV configuration says console=hvc0 (Xen's console); on mica hvc0
 * is virtio-console, so with the serial console such a guest would print
 * nothing where the user looks. The reverse mistake is caught too.
 */
static int check_console_arg(struct ctx *c)
{
	const char *cmd = c->out->cmdline, *p;
	bool hvc = false, ttys = false;

	for (p = cmd; (p = strstr(p, "console=")); p += 8) {
		if (p != cmd && p[-1] != ' ')
			continue;
		hvc |= !strncmp(p + 8, "hvc", 3);
		ttys |= !strncmp(p + 8, "ttyS", 4);
	}
	if (hvc && !ttys && c->out->vm.console == CONSOLE_SERIAL)
		return warn(c, 0,
			    "the command line has console=hvc0, but the "
			    "domain's console is the serial port (ttyS0): "
			    "set console = 'virtio', or write console=ttyS0");
	if (ttys && !hvc && c->out->vm.console == CONSOLE_VIRTIO)
		return warn(c, 0,
			    "the command line has console=ttyS0, but the "
			    "domain's console is virtio (hvc0): write "
			    "console=hvc0, or leave console = 'serial'");
	return 0;
}

static int compose_cmdline(struct ctx *c)
{
	struct domain_config *o = c->out;
	size_t len;
	int rc;

	if (c->cmdline) {
		if (c->root || c->extra) {
			rc = warn(c, (c->root ? c->root : c->extra)->line,
				  "root= and extra= are ignored when cmdline= "
				  "is given (as in xl)");
			if (rc)
				return rc;
		}
		o->cmdline = strdup(c->cmdline->str);
	} else if (c->root || c->extra) {
		/* xl.cfg(5): "root=ROOT EXTRA" */
		len = (c->root ? c->root->len + 6 : 0) +
		      (c->extra ? c->extra->len : 0) + 1;
		o->cmdline = malloc(len);
		if (o->cmdline)
			snprintf(o->cmdline, len, "%s%s%s%s",
				 c->root ? "root=" : "",
				 c->root ? c->root->str : "",
				 c->root && c->extra ? " " : "",
				 c->extra ? c->extra->str : "");
	} else {
		o->cmdline = strdup(o->vm.console == CONSOLE_VIRTIO ?
					    DEFAULT_CMDLINE_VIRTIO :
					    DEFAULT_CMDLINE);
	}
	if (!o->cmdline)
		return -ENOMEM;
	if (strlen(o->cmdline) > LAYOUT_CMDLINE_MAX - 1)
		return fail(c, 0,
			    "the command line (root= and extra=) is "
			    "longer than %llu bytes",
			    LAYOUT_CMDLINE_MAX - 1);
	o->vm.cmdline = o->cmdline;
	return check_console_arg(c);
}

/* Puts the disks in guest order: by vdev, then those without one. */
static int order_disks(struct ctx *c)
{
	struct vm_config *vm = &c->out->vm;
	unsigned int n = vm->nr_disks, order[CONFIG_MAX_DISKS], i, j;
	struct {
		struct disk_config disk;
		char vdev[DOMCFG_VDEV_MAX + 1];
	} * tmp;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (c->disk_key[i] == c->disk_key[j])
				return fail(c, c->disk_line[i],
					    "disk[%u]: vdev '%s' is the same "
					    "disk as '%s' (disk[%u])",
					    i, c->out->disk_vdev[i],
					    c->out->disk_vdev[j], j);
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(vm->disks[i].path, vm->disks[j].path) &&
			    !(vm->disks[i].readonly && vm->disks[j].readonly))
				return fail(c, c->disk_line[i],
					    "disk[%u]: '%.60s' is also "
					    "disk[%u]; only read-only disks "
					    "may share an image",
					    i, vm->disks[i].path, j);
	/* Insertion sort of indices: at most CONFIG_MAX_DISKS. */
	for (i = 0; i < n; i++) {
		for (j = i; j > 0 && c->disk_key[order[j - 1]] > c->disk_key[i];
		     j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	if (!n)
		return 0;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		tmp[i].disk = vm->disks[order[i]];
		memcpy(tmp[i].vdev, c->out->disk_vdev[order[i]],
		       sizeof(tmp[i].vdev));
	}
	for (i = 0; i < n; i++) {
		vm->disks[i] = tmp[i].disk;
		memcpy(c->out->disk_vdev[i], tmp[i].vdev, sizeof(tmp[i].vdev));
	}
	free(tmp);
	return 0;
}

/*
 * An interface without mac= gets 52:54:00 and three bytes hashed from the
 * domain's name and the interface's index (FNV-1a): stable across
 * restarts, and different between domains, which share bridges.
 */
static void default_mac(const char *name, unsigned int index,
			unsigned int attempt, uint8_t mac[6])
{
	uint32_t h = 2166136261u;
	const char *p;

	for (p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ (uint8_t)index) * 16777619u;
	h = (h ^ (uint8_t)attempt) * 16777619u;
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

static bool mac_used(const struct vm_config *vm, unsigned int upto,
		     const bool *fixed, const uint8_t mac[6], unsigned int self)
{
	unsigned int i;

	for (i = 0; i < vm->nr_nets; i++)
		if (i != self && (i < upto || fixed[i]) &&
		    !memcmp(vm->nets[i].mac, mac, 6))
			return true;
	return false;
}

static int assign_macs(struct ctx *c)
{
	struct vm_config *vm = &c->out->vm;
	unsigned int i, j, attempt;

	for (i = 0; i < vm->nr_nets; i++)
		for (j = 0; j < i; j++)
			if (c->mac_given[i] && c->mac_given[j] &&
			    !memcmp(vm->nets[i].mac, vm->nets[j].mac, 6))
				return fail(c, c->net_line[i],
					    "vif[%u]: same mac as vif[%u]", i,
					    j);
	for (i = 0; i < vm->nr_nets; i++) {
		if (c->mac_given[i])
			continue;
		for (attempt = 0; attempt < 256; attempt++) {
			default_mac(c->out->name, i, attempt, vm->nets[i].mac);
			if (!mac_used(vm, i, c->mac_given, vm->nets[i].mac, i))
				break;
		}
	}
	return 0;
}

static int finish(struct ctx *c)
{
	struct domain_config *o = c->out;
	int rc;

	if (!o->name[0])
		return fail(c, 0,
			    "no name: 'name' is required, e.g. "
			    "name = \"web1\"");
	if (!o->kernel)
		return fail(c, 0,
			    "no kernel: mica boots a kernel directly; set "
			    "kernel = \"/path/to/vmlinuz\"");
	o->vm.kernel = o->kernel;
	o->vm.initrd = o->ramdisk;
	if (c->maxmem) {
		uint64_t maxmem = c->maxmem_mib;

		if (maxmem < o->vm.memory / MIB)
			return fail(c, c->maxmem->line,
				    "maxmem: %llu MiB is below memory (%llu "
				    "MiB)",
				    (unsigned long long)maxmem,
				    (unsigned long long)(o->vm.memory / MIB));
		if (maxmem > o->vm.memory / MIB &&
		    (rc = warn(c, c->maxmem->line,
			       "maxmem: mica has no memory ballooning; the "
			       "guest has memory = %llu MiB",
			       (unsigned long long)(o->vm.memory / MIB))))
			return rc;
	}
	if (c->maxvcpus) {
		uint64_t maxv = c->maxvcpus_n;

		if (maxv < o->vm.cpus)
			return fail(c, c->maxvcpus->line,
				    "maxvcpus: %llu is below vcpus (%u)",
				    (unsigned long long)maxv, o->vm.cpus);
		if (maxv > o->vm.cpus &&
		    (rc = warn(c, c->maxvcpus->line,
			       "maxvcpus: mica has no vCPU hotplug; the "
			       "guest has vcpus = %u",
			       o->vm.cpus)))
			return rc;
	}
	if (c->serial_pty && o->vm.console == CONSOLE_VIRTIO)
		return fail(c, c->console->line,
			    "console: 'virtio' makes hvc0 the console, but "
			    "serial = 'pty' asks for the serial port; "
			    "choose one");
	rc = compose_cmdline(c);
	if (rc)
		return rc;
	rc = order_disks(c);
	if (rc)
		return rc;
	rc = assign_macs(c);
	if (rc)
		return rc;
	/* A reboot the VMM handles itself; the others are micad's. */
	o->vm.on_reboot = o->on_reboot == DOMAIN_RESTART ? REBOOT_RESTART :
							   REBOOT_EXIT;
	return 0;
}

static void defaults(struct domain_config *o)
{
	memset(o, 0, sizeof(*o));
	o->vm.cpus = 1;
	o->vm.memory = DOMCFG_DEFAULT_MEMORY_MIB * MIB;
	o->vm.console = CONSOLE_SERIAL;
	o->vm.on_reboot = REBOOT_RESTART;
	/* xl.cfg(5)'s defaults */
	o->on_poweroff = DOMAIN_DESTROY;
	o->on_reboot = DOMAIN_RESTART;
	o->on_crash = DOMAIN_DESTROY;
}

static int process(struct ctx *c, const struct xlcfg *cfg)
{
	unsigned int i, j;
	int rc;

	for (i = 0; i < cfg->nr_settings; i++) {
		const struct xlcfg_setting *s = &cfg->settings[i];
		const struct key_def *def;

		for (j = 0; j < i; j++)
			if (!strcmp(cfg->settings[j].key, s->key))
				return s->line ? fail(c, s->line,
						      "'%s' is set twice (also "
						      "on line %u)",
						      s->key,
						      cfg->settings[j].line) :
						 fail(c, 0, "'%s' is set twice",
						      s->key);
		def = find_key(s->key);
		if (!def)
			return unknown_key(c, s);
		if (s->append)
			return fail(c, s->line,
				    "'%s +=' is not supported; give the whole "
				    "value with '='",
				    s->key);
		rc = check_utf8(c, s->key, &s->value);
		if (rc)
			return rc;
		switch (def->kind) {
		case KEY_SUPPORTED:
			rc = def->handle(c, s);
			break;
		case KEY_XEN_ONLY:
			rc = warn(c, s->line, "'%s' is Xen-only, ignored: %s",
				  s->key, def->why);
			break;
		case KEY_REFUSED:
			rc = fail(c, s->line, "'%s' is not supported: %s",
				  s->key, def->why);
			break;
		}
		if (rc)
			return rc;
	}
	return finish(c);
}

/* ---- JSON -------------------------------------------------------------- */

static int json_to_value(struct ctx *c, const char *path, json_t *j,
			 struct xlcfg_value *v, unsigned int depth)
{
	char sub[96];
	size_t i, n;
	int rc;

	switch (json_typeof(j)) {
	case JSON_STRING:
		n = json_string_length(j);
		if (memchr(json_string_value(j), '\0', n))
			return fail(c, 0, "%s: a string with a NUL byte", path);
		if (n > XLCFG_STRING_MAX)
			return fail_rc(c, -EFBIG, 0,
				       "%s: string longer than %u bytes", path,
				       XLCFG_STRING_MAX);
		v->type = XLCFG_STRING;
		v->str = strndup(json_string_value(j), n);
		v->len = n;
		return v->str ? 0 : -ENOMEM;
	case JSON_INTEGER:
		if (json_integer_value(j) < 0)
			return fail(c, 0, "%s: %lld is negative", path,
				    (long long)json_integer_value(j));
		v->type = XLCFG_NUMBER;
		v->num = (uint64_t)json_integer_value(j);
		if (asprintf(&v->str, "%llu", (unsigned long long)v->num) < 0) {
			v->str = NULL;
			return -ENOMEM;
		}
		v->len = strlen(v->str);
		return 0;
	case JSON_REAL:
		return fail(c, 0, "%s: expected a whole number, not %g", path,
			    json_real_value(j));
	case JSON_TRUE:
	case JSON_FALSE:
		v->type = XLCFG_BOOL;
		v->boolean = json_is_true(j);
		return 0;
	case JSON_NULL:
		return fail(c, 0,
			    "%s: null is not a value (leave the key out for "
			    "its default)",
			    path);
	case JSON_OBJECT:
		return fail(c, 0,
			    "%s: an object is not accepted here (expected a "
			    "string, number or list)",
			    path);
	case JSON_ARRAY:
		break;
	}
	if (depth >= XLCFG_MAX_DEPTH)
		return fail_rc(c, -EFBIG, 0,
			       "%s: lists nested more than %u deep", path,
			       XLCFG_MAX_DEPTH);
	n = json_array_size(j);
	if (n > XLCFG_MAX_ITEMS)
		return fail_rc(c, -EFBIG, 0, "%s: list with more than %u items",
			       path, XLCFG_MAX_ITEMS);
	v->type = XLCFG_LIST;
	v->items = n ? calloc(n, sizeof(*v->items)) : NULL;
	if (n && !v->items)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		/* Counted first, so a half-built item is freed on failure. */
		v->nr_items = (unsigned int)i + 1;
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		rc = json_to_value(c, sub, json_array_get(j, i), &v->items[i],
				   depth + 1);
		if (rc)
			return rc;
	}
	return 0;
}

static int json_to_settings(struct ctx *c, const json_t *obj, struct xlcfg *cfg)
{
	/* jansson's iteration API takes no const; nothing is modified. */
	json_t *o = (json_t *)obj, *val;
	const char *key;
	size_t key_len, n;
	int rc;

	if (!json_is_object(o))
		return fail(c, 0,
			    "expected a JSON object, e.g. { \"name\": "
			    "\"web1\", \"kernel\": \"/boot/vmlinuz\" }");
	n = json_object_size(o);
	if (n > XLCFG_MAX_SETTINGS)
		return fail_rc(c, -EFBIG, 0, "more than %u keys",
			       XLCFG_MAX_SETTINGS);
	cfg->settings = n ? calloc(n, sizeof(*cfg->settings)) : NULL;
	if (n && !cfg->settings)
		return -ENOMEM;
	json_object_keylen_foreach(o, key, key_len, val)
	{
		struct xlcfg_setting *s;

		if (cfg->nr_settings == n)
			break;
		if (key_len > XLCFG_KEY_MAX || strlen(key) != key_len)
			return fail(c, 0, "unknown key '%.40s%s'", key,
				    key_len > 40 ? "..." : "");
		s = &cfg->settings[cfg->nr_settings++];
		memcpy(s->key, key, key_len + 1);
		rc = json_to_value(c, key, val, &s->value, 0);
		if (rc)
			return rc;
	}
	return 0;
}

static int run(const char *filename, struct domain_config *out,
	       struct domcfg_msgs *msgs, const struct xlcfg *cfg,
	       const json_t *obj)
{
	struct ctx c = {
		.file = filename ? filename : "config",
		.out = out,
		.msgs = msgs,
	};
	struct xlcfg from_json = { 0 };
	int rc;

	defaults(out);
	if (obj) {
		rc = json_to_settings(&c, obj, &from_json);
		if (!rc)
			rc = process(&c, &from_json);
		xlcfg_free(&from_json);
	} else {
		rc = process(&c, cfg);
	}
	if (rc) {
		if (rc == -ENOMEM)
			fail_rc(&c, rc, 0, "out of memory");
		domcfg_free(out);
	}
	return rc;
}

int domcfg_from_json(const json_t *obj, const char *filename,
		     struct domain_config *out, struct domcfg_msgs *msgs)
{
	if (msgs)
		memset(msgs, 0, sizeof(*msgs));
	return run(filename, out, msgs, NULL, obj);
}

static bool looks_like_json(const char *text, size_t len)
{
	size_t i = 0;

	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		i = 3;
	while (i < len && (text[i] == ' ' || text[i] == '\t' ||
			   text[i] == '\r' || text[i] == '\n'))
		i++;
	return i < len && text[i] == '{';
}

int domcfg_parse(const char *text, size_t len, const char *filename,
		 enum domcfg_format fmt, struct domain_config *out,
		 struct domcfg_msgs *msgs)
{
	struct ctx c = {
		.file = filename ? filename : "config",
		.out = out,
		.msgs = msgs,
	};
	int rc;

	if (msgs)
		memset(msgs, 0, sizeof(*msgs));
	memset(out, 0, sizeof(*out));
	if (fmt == DOMCFG_AUTO)
		fmt = looks_like_json(text, len) ? DOMCFG_JSON : DOMCFG_XL;
	if (len > XLCFG_MAX_TEXT)
		return fail_rc(&c, -EFBIG, 0,
			       "larger than %u KiB; a domain configuration "
			       "is a few lines",
			       XLCFG_MAX_TEXT >> 10);
	if (fmt == DOMCFG_JSON) {
		json_error_t jerr;
		json_t *obj;

		obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!obj) {
			if (json_error_code(&jerr) == json_error_out_of_memory)
				return -ENOMEM;
			return fail_at(
				&c, -EINVAL,
				jerr.line > 0 ? (unsigned int)jerr.line : 0,
				jerr.column > 0 ? (unsigned int)jerr.column : 0,
				"%s", jerr.text);
		}
		rc = run(filename, out, msgs, NULL, obj);
		json_decref(obj);
	} else {
		struct xlcfg cfg;
		struct xlcfg_error xerr;

		rc = xlcfg_parse(text, len, &cfg, &xerr);
		if (rc == -ENOMEM)
			return rc;
		if (rc)
			return fail_at(&c, rc, xerr.line, xerr.col, "%s",
				       xerr.msg);
		rc = run(filename, out, msgs, &cfg, NULL);
		xlcfg_free(&cfg);
	}
	return rc;
}

int domcfg_load(const char *path, struct domain_config *out,
		struct domcfg_msgs *msgs)
{
	struct ctx c = { .file = path, .out = out, .msgs = msgs };
	char *buf = NULL;
	size_t len = 0;
	ssize_t r;
	int fd, rc;

	if (msgs)
		memset(msgs, 0, sizeof(*msgs));
	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return fail_rc(&c, rc, 0, "%s", strerror(-rc));
	}
	/* One byte more than the limit, to tell "too large" apart. */
	buf = malloc(XLCFG_MAX_TEXT + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (len <= XLCFG_MAX_TEXT) {
		r = read(fd, buf + len, XLCFG_MAX_TEXT + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = fail_rc(&c, -errno, 0, "%s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	rc = domcfg_parse(buf, len, path, DOMCFG_AUTO, out, msgs);
	if (!rc) {
		out->path = strdup(path);
		if (!out->path) {
			domcfg_free(out);
			rc = -ENOMEM;
		}
	}
out:
	free(buf);
	close(fd);
	return rc;
}

void domcfg_free(struct domain_config *cfg)
{
	free(cfg->kernel);
	free(cfg->ramdisk);
	free(cfg->cmdline);
	free(cfg->path);
	free(cfg->warnings);
	memset(cfg, 0, sizeof(*cfg));
}

const char *domcfg_action_name(enum domain_action action)
{
	switch (action) {
	case DOMAIN_DESTROY:
		return "destroy";
	case DOMAIN_RESTART:
		return "restart";
	case DOMAIN_PRESERVE:
		return "preserve";
	}
	return "destroy";
}

/* ---- canonical JSON ---------------------------------------------------- */

static void fmt_endpoint(char *buf, size_t len, uint32_t addr, uint16_t port)
{
	char a[INET_ADDRSTRLEN] = "";
	struct in_addr in = { .s_addr = addr };

	if (addr)
		inet_ntop(AF_INET, &in, a, sizeof(a));
	snprintf(buf, len, "%s:%u", a, port);
}

static json_t *disk_spec(const struct domain_config *cfg, unsigned int i)
{
	const struct disk_config *d = &cfg->vm.disks[i];
	char *s, opts[96] = "";
	size_t n = 0;
	json_t *j;

	/* target= last: it takes the rest of the spec, commas and all. */
	if (cfg->disk_vdev[i][0])
		n += (size_t)snprintf(opts + n, sizeof(opts) - n, ",vdev=%s",
				      cfg->disk_vdev[i]);
	if (d->serial[0])
		n += (size_t)snprintf(opts + n, sizeof(opts) - n, ",serial=%s",
				      d->serial);
	if (d->cache == DISK_CACHE_NONE)
		n += (size_t)snprintf(opts + n, sizeof(opts) - n,
				      ",cache=none");
	else if (d->cache == DISK_CACHE_UNSAFE)
		n += (size_t)snprintf(opts + n, sizeof(opts) - n,
				      ",cache=unsafe");
	if (d->queues > 1)
		snprintf(opts + n, sizeof(opts) - n, ",queues=%u", d->queues);
	if (asprintf(&s, "format=raw%s,access=%s,target=%s", opts,
		     d->readonly ? "ro" : "rw", d->path) < 0)
		return NULL;
	j = json_string(s);
	free(s);
	return j;
}

static json_t *vif_spec(const struct net_config *net)
{
	char buf[64 + CONFIG_MAX_HOSTFWD * 80], host[32], guest[32];
	const uint8_t *m = net->mac;
	unsigned int i;
	size_t n;

	if (net->backend == NET_TAP)
		n = (size_t)snprintf(buf, sizeof(buf), "vifname=%s,", net->tap);
	else
		n = 0;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			      "mac=%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
			      m[2], m[3], m[4], m[5]);
	for (i = 0; i < net->nr_hostfwd && n < sizeof(buf); i++) {
		const struct net_hostfwd *f = &net->hostfwd[i];

		fmt_endpoint(host, sizeof(host), f->host_addr, f->host_port);
		fmt_endpoint(guest, sizeof(guest), f->guest_addr,
			     f->guest_port);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      ",hostfwd=%s:%s-%s",
				      f->udp ? "udp" : "tcp", host, guest);
	}
	return json_string(buf);
}

json_t *domcfg_to_json(const struct domain_config *cfg)
{
	const struct vm_config *vm = &cfg->vm;
	json_t *o = json_object(), *disks = json_array(), *vifs = json_array();
	json_t *cpus = NULL;
	char uuid[37], rng[32];
	unsigned int i;
	int bad = !o || !disks || !vifs;

	if (bad)
		goto fail;
	bad |= json_object_set_new(o, "name", json_string(cfg->name));
	if (cfg->has_uuid) {
		domcfg_uuid_format(cfg->uuid, uuid);
		bad |= json_object_set_new(o, "uuid", json_string(uuid));
	}
	bad |= json_object_set_new(
		o, "memory", json_integer((json_int_t)(vm->memory / MIB)));
	bad |= json_object_set_new(o, "vcpus", json_integer(vm->cpus));
	if (vm->nr_vcpu_affinity) {
		cpus = json_array();
		for (i = 0; cpus && i < vm->nr_vcpu_affinity; i++)
			bad |= json_array_append_new(
				cpus, json_integer(vm->vcpu_affinity[i]));
		bad |= json_object_set_new(o, "cpus", cpus);
	}
	bad |= json_object_set_new(o, "kernel", json_string(vm->kernel));
	if (vm->initrd)
		bad |= json_object_set_new(o, "ramdisk",
					   json_string(vm->initrd));
	bad |= json_object_set_new(o, "cmdline", json_string(vm->cmdline));
	for (i = 0; i < vm->nr_disks; i++)
		bad |= json_array_append_new(disks, disk_spec(cfg, i));
	bad |= json_object_set_new(o, "disk", disks);
	disks = NULL;
	for (i = 0; i < vm->nr_nets; i++)
		bad |= json_array_append_new(vifs, vif_spec(&vm->nets[i]));
	bad |= json_object_set_new(o, "vif", vifs);
	vifs = NULL;
	bad |= json_object_set_new(
		o, "on_poweroff",
		json_string(domcfg_action_name(cfg->on_poweroff)));
	bad |= json_object_set_new(
		o, "on_reboot",
		json_string(domcfg_action_name(cfg->on_reboot)));
	bad |= json_object_set_new(
		o, "on_crash", json_string(domcfg_action_name(cfg->on_crash)));
	bad |= json_object_set_new(o, "console",
				   json_string(vm->console == CONSOLE_VIRTIO ?
						       "virtio" :
						       "serial"));
	if (vm->rng_rate)
		snprintf(rng, sizeof(rng), "rate=%llu",
			 (unsigned long long)vm->rng_rate);
	else
		snprintf(rng, sizeof(rng), "off");
	bad |= json_object_set_new(o, "rng", json_string(rng));
	bad |= json_object_set_new(o, "autostart",
				   json_boolean(cfg->autostart));
	if (!bad)
		return o;
fail:
	json_decref(o);
	json_decref(disks);
	json_decref(vifs);
	return NULL;
}
