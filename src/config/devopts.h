/* SPDX-License-Identifier: MIT */
/*
 * Device specifications: the "key=value,key=value" strings of --disk, --net,
 * --console and --rng, parsed into the typed config. Shared by the command
 * line and, later, domain configuration files.
 */
#ifndef MICA_CONFIG_DEVOPTS_H
#define MICA_CONFIG_DEVOPTS_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Bytes per second of entropy for "--rng on". */
#define DEVOPTS_RNG_DEFAULT_RATE (1ull << 20)
/* The limits of "--rng rate=SIZE". */
#define DEVOPTS_RNG_MIN_RATE 64ull
#define DEVOPTS_RNG_MAX_RATE (1ull << 30)

/*
 * Each returns 0, or -EINVAL with a message in err that names the option
 * (opt, e.g. "--disk"), the offending part and the reason.
 */

/*
 * [path=]FILE[,readonly=on|off][,serial=ID][,cache=MODE][,queues=N]: a
 * first item without '=' is the path.
 */
int devopts_parse_disk(const char *opt, const char *spec,
		       struct disk_config *disk, char *err, size_t errlen);

/*
 * user[,hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...
 * [,mac=MAC] or tap=NAME[,mac=MAC]. index numbers the interface, for the
 * default MAC address 52:54:00:6d:69:<index>.
 */
int devopts_parse_net(const char *opt, const char *spec, unsigned int index,
		      struct net_config *net, char *err, size_t errlen);

/* serial | virtio */
int devopts_parse_console(const char *opt, const char *spec,
			  enum console_kind *out, char *err, size_t errlen);

/* on | off | rate=SIZE (bytes per second; K, M, G suffixes) */
int devopts_parse_rng(const char *opt, const char *spec, uint64_t *rate,
		      char *err, size_t errlen);

#endif
