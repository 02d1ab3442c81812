// SPDX-License-Identifier: MIT
/*
 * Device specifications ("path=disk.img,readonly=on"): split into keys and
 * values, every value checked, every mistake named with its option and key.
 */
#include "config/devopts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config/size.h"

static int devopts_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int devopts_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* One "key=value" item of a spec, NUL-terminated copies. */
struct item {
	char key[32];
	char value[CONFIG_PATH_MAX];
	bool has_value;
};

/*
 * Takes the next comma-separated item from *p. Returns 1 with it in *it,
 * 0 at the end, -EINVAL for an item too long or an empty key.
 */
static int next_item(const char *opt, const char **p, struct item *it,
		     char *err, size_t errlen)
{
	size_t len = strcspn(*p, ","), klen;
	const char *eq;

	if (!**p)
		return 0;
	eq = memchr(*p, '=', len);
	klen = eq ? (size_t)(eq - *p) : len;
	if (len == 0)
		return devopts_fail(err, errlen,
				    "%s: empty item (a comma too many?)", opt);
	if (klen == 0)
		return devopts_fail(err, errlen, "%s: empty key in '%.*s'", opt,
				    (int)len, *p);
	if (klen >= sizeof(it->key))
		return devopts_fail(err, errlen, "%s: unknown key '%.*s'", opt,
				    (int)klen, *p);
	memcpy(it->key, *p, klen);
	it->key[klen] = '\0';
	it->has_value = eq != NULL;
	it->value[0] = '\0';
	if (eq) {
		size_t vlen = len - klen - 1;

		if (vlen >= sizeof(it->value))
			return devopts_fail(err, errlen,
					    "%s: value of '%s' is too long",
					    opt, it->key);
		memcpy(it->value, eq + 1, vlen);
		it->value[vlen] = '\0';
	}
	*p += len;
	if (**p == ',') {
		(*p)++;
		if (!**p)
			return devopts_fail(err, errlen, "%s: trailing comma",
					    opt);
	}
	return 1;
}

static int need_value(const char *opt, const struct item *it, char *err,
		      size_t errlen)
{
	if (!it->has_value || !it->value[0])
		return devopts_fail(err, errlen, "%s: '%s' needs a value", opt,
				    it->key);
	return 0;
}

static int parse_bool(const char *opt, const struct item *it, bool *out,
		      char *err, size_t errlen)
{
	/* A bare key ("readonly") means on. */
	if (!it->has_value || !strcmp(it->value, "on") ||
	    !strcmp(it->value, "true") || !strcmp(it->value, "yes") ||
	    !strcmp(it->value, "1")) {
		*out = true;
		return 0;
	}
	if (!strcmp(it->value, "off") || !strcmp(it->value, "false") ||
	    !strcmp(it->value, "no") || !strcmp(it->value, "0")) {
		*out = false;
		return 0;
	}
	return devopts_fail(err, errlen, "%s: %s='%s': expected on or off", opt,
			    it->key, it->value);
}

int devopts_parse_disk(const char *opt, const char *spec,
		       struct disk_config *disk, char *err, size_t errlen)
{
	struct item it;
	const char *p = spec;
	unsigned long n;
	int rc;

	memset(disk, 0, sizeof(*disk));
	disk->cache = DISK_CACHE_WRITEBACK;
	disk->queues = 1;
	/* A first item without '=' is the path: --disk disk.img,readonly */
	n = strcspn(p, ",");
	if (n && !memchr(p, '=', n)) {
		if (n >= sizeof(disk->path))
			return devopts_fail(err, errlen, "%s: path is too long",
					    opt);
		memcpy(disk->path, p, n);
		disk->path[n] = '\0';
		p += n;
		if (*p == ',' && !*++p)
			return devopts_fail(err, errlen, "%s: trailing comma",
					    opt);
	}
	while ((rc = next_item(opt, &p, &it, err, errlen)) == 1) {
		if (!strcmp(it.key, "path")) {
			if ((rc = need_value(opt, &it, err, errlen)))
				return rc;
			memcpy(disk->path, it.value, sizeof(disk->path));
		} else if (!strcmp(it.key, "readonly") ||
			   !strcmp(it.key, "ro")) {
			if ((rc = parse_bool(opt, &it, &disk->readonly, err,
					     errlen)))
				return rc;
		} else if (!strcmp(it.key, "serial")) {
			size_t i, len = strlen(it.value);

			if (len > CONFIG_DISK_SERIAL_MAX)
				return devopts_fail(
					err, errlen,
					"%s: serial '%s' is longer than %d "
					"characters",
					opt, it.value, CONFIG_DISK_SERIAL_MAX);
			for (i = 0; i < len; i++)
				if (!isprint((unsigned char)it.value[i]))
					return devopts_fail(
						err, errlen,
						"%s: serial must be printable "
						"ASCII",
						opt);
			memcpy(disk->serial, it.value, len + 1);
		} else if (!strcmp(it.key, "cache")) {
			if (!strcmp(it.value, "writeback"))
				disk->cache = DISK_CACHE_WRITEBACK;
			else if (!strcmp(it.value, "none"))
				disk->cache = DISK_CACHE_NONE;
			else if (!strcmp(it.value, "unsafe"))
				disk->cache = DISK_CACHE_UNSAFE;
			else
				return devopts_fail(
					err, errlen,
					"%s: cache='%s': expected writeback, "
					"none or unsafe",
					opt, it.value);
		} else if (!strcmp(it.key, "queues")) {
			if (uint_parse(it.value, 1, CONFIG_MAX_DISK_QUEUES, &n))
				return devopts_fail(
					err, errlen,
					"%s: queues='%s': expected 1 to %d",
					opt, it.value, CONFIG_MAX_DISK_QUEUES);
			disk->queues = (unsigned int)n;
		} else {
			return devopts_fail(
				err, errlen,
				"%s: unknown key '%s' (known: path, "
				"readonly, serial, cache, queues)",
				opt, it.key);
		}
	}
	if (rc < 0)
		return rc;
	if (!disk->path[0])
		return devopts_fail(err, errlen,
				    "%s '%s': path=FILE is required", opt,
				    spec);
	return 0;
}

static int parse_mac(const char *opt, const char *s, uint8_t mac[6], char *err,
		     size_t errlen)
{
	unsigned int b[6], i;
	char tail;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return devopts_fail(err, errlen,
				    "%s: mac='%s': expected six hex bytes, "
				    "e.g. 52:54:00:12:34:56",
				    opt, s);
	for (i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return devopts_fail(err, errlen,
					    "%s: mac='%s': expected six hex "
					    "bytes, e.g. 52:54:00:12:34:56",
					    opt, s);
	if (b[0] & 1)
		return devopts_fail(err, errlen,
				    "%s: mac='%s' is a multicast address", opt,
				    s);
	if (!(b[0] | b[1] | b[2] | b[3] | b[4] | b[5]))
		return devopts_fail(err, errlen, "%s: mac='%s' is all zeros",
				    opt, s);
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* "[ADDR]:PORT": an empty address is 0 (any / the guest's DHCP address). */
static int parse_endpoint(const char *s, size_t len, uint32_t *addr,
			  uint16_t *port)
{
	char buf[64];
	const char *colon;
	unsigned long n;
	struct in_addr in;

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	colon = strrchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*addr = 0;
	if (colon != buf) {
		buf[colon - buf] = '\0';
		if (inet_pton(AF_INET, buf, &in) != 1)
			return -EINVAL;
		*addr = in.s_addr;
	}
	if (uint_parse(colon + 1, 1, 65535, &n))
		return -EINVAL;
	*port = (uint16_t)n;
	return 0;
}

/* tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, or udp:... */
static int parse_hostfwd(const char *opt, const char *s,
			 struct net_hostfwd *fwd, char *err, size_t errlen)
{
	const char *rest, *dash;

	memset(fwd, 0, sizeof(*fwd));
	if (!strncmp(s, "tcp:", 4)) {
		rest = s + 4;
	} else if (!strncmp(s, "udp:", 4)) {
		fwd->udp = true;
		rest = s + 4;
	} else {
		goto bad;
	}
	dash = strchr(rest, '-');
	if (!dash ||
	    parse_endpoint(rest, (size_t)(dash - rest), &fwd->host_addr,
			   &fwd->host_port) ||
	    parse_endpoint(dash + 1, strlen(dash + 1), &fwd->guest_addr,
			   &fwd->guest_port))
		goto bad;
	return 0;
bad:
	return devopts_fail(
		err, errlen,
		"%s: hostfwd='%s': expected "
		"tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, "
		"e.g. tcp::8080-:80",
		opt, s);
}

int devopts_parse_net(const char *opt, const char *spec, unsigned int index,
		      struct net_config *net, char *err, size_t errlen)
{
	struct item it;
	const char *p = spec;
	bool have_backend = false;
	unsigned int i;
	int rc;

	memset(net, 0, sizeof(*net));
	net->mac[0] = 0x52;
	net->mac[1] = 0x54;
	net->mac[2] = 0x00;
	net->mac[3] = 0x6d; /* 'm' */
	net->mac[4] = 0x69; /* 'i' */
	net->mac[5] = (uint8_t)index;
	while ((rc = next_item(opt, &p, &it, err, errlen)) == 1) {
		bool first = !have_backend;

		if (!strcmp(it.key, "user") && !it.has_value && first) {
			net->backend = NET_USER;
			have_backend = true;
		} else if (!strcmp(it.key, "tap") && first) {
			if ((rc = need_value(opt, &it, err, errlen)))
				return rc;
			if (strlen(it.value) >= CONFIG_IFNAME_MAX ||
			    strchr(it.value, '/'))
				return devopts_fail(
					err, errlen,
					"%s: tap='%s': not an interface name "
					"(at most %d characters, no '/')",
					opt, it.value, CONFIG_IFNAME_MAX - 1);
			net->backend = NET_TAP;
			memcpy(net->tap, it.value, strlen(it.value) + 1);
			have_backend = true;
		} else if (first) {
			return devopts_fail(err, errlen,
					    "%s '%s': start with 'user' or "
					    "'tap=NAME'",
					    opt, spec);
		} else if (!strcmp(it.key, "mac")) {
			if ((rc = need_value(opt, &it, err, errlen)) ||
			    (rc = parse_mac(opt, it.value, net->mac, err,
					    errlen)))
				return rc;
		} else if (!strcmp(it.key, "hostfwd") &&
			   net->backend == NET_USER) {
			if ((rc = need_value(opt, &it, err, errlen)))
				return rc;
			if (net->nr_hostfwd == CONFIG_MAX_HOSTFWD)
				return devopts_fail(err, errlen,
						    "%s: at most %d hostfwd "
						    "rules",
						    opt, CONFIG_MAX_HOSTFWD);
			rc = parse_hostfwd(opt, it.value,
					   &net->hostfwd[net->nr_hostfwd], err,
					   errlen);
			if (rc)
				return rc;
			net->nr_hostfwd++;
		} else {
			return devopts_fail(err, errlen,
					    "%s: unknown key '%s' (known: %s)",
					    opt, it.key,
					    net->backend == NET_USER ?
						    "hostfwd, mac" :
						    "mac");
		}
	}
	if (rc < 0)
		return rc;
	if (!have_backend)
		return devopts_fail(err, errlen,
				    "%s: empty; expected 'user' or 'tap=NAME'",
				    opt);
	for (i = 0; i < net->nr_hostfwd; i++) {
		unsigned int j;

		for (j = 0; j < i; j++)
			if (net->hostfwd[i].udp == net->hostfwd[j].udp &&
			    net->hostfwd[i].host_port ==
				    net->hostfwd[j].host_port &&
			    net->hostfwd[i].host_addr ==
				    net->hostfwd[j].host_addr)
				return devopts_fail(
					err, errlen,
					"%s: host port %u is forwarded twice",
					opt, net->hostfwd[i].host_port);
	}
	return 0;
}

int devopts_parse_console(const char *opt, const char *spec,
			  enum console_kind *out, char *err, size_t errlen)
{
	if (!strcmp(spec, "serial"))
		*out = CONSOLE_SERIAL;
	else if (!strcmp(spec, "virtio"))
		*out = CONSOLE_VIRTIO;
	else
		return devopts_fail(err, errlen,
				    "%s '%s': expected 'serial' or 'virtio'",
				    opt, spec);
	return 0;
}

int devopts_parse_rng(const char *opt, const char *spec, uint64_t *rate,
		      char *err, size_t errlen)
{
	uint64_t v;
	unsigned long n;

	if (!strcmp(spec, "on")) {
		*rate = DEVOPTS_RNG_DEFAULT_RATE;
		return 0;
	}
	if (!strcmp(spec, "off")) {
		*rate = 0;
		return 0;
	}
	if (strncmp(spec, "rate=", 5))
		return devopts_fail(err, errlen,
				    "%s '%s': expected on, off or rate=SIZE "
				    "(bytes per second, e.g. rate=64K)",
				    opt, spec);
	/* A bare number is bytes here, not size_parse()'s MiB. */
	if (!uint_parse(spec + 5, 0, ~0ul, &n))
		v = n;
	else if (size_parse(spec + 5, &v))
		return devopts_fail(err, errlen,
				    "%s '%s': not a size (e.g. 4096, 64K, 1M)",
				    opt, spec);
	if (v < DEVOPTS_RNG_MIN_RATE || v > DEVOPTS_RNG_MAX_RATE)
		return devopts_fail(err, errlen,
				    "%s '%s': rate must be %llu bytes/s to "
				    "%llu MiB/s",
				    opt, spec, DEVOPTS_RNG_MIN_RATE,
				    DEVOPTS_RNG_MAX_RATE >> 20);
	*rate = v;
	return 0;
}
