/* SPDX-License-Identifier: MIT */
/* A tap device as a network backend: see tap.c. */
#ifndef MICA_BACKENDS_TAP_H
#define MICA_BACKENDS_TAP_H

#include <stddef.h>

#include "backends/net.h"

/*
 * Attaches to the tap device ifname, creating it if it does not exist.
 * Returns 0, or -errno with a message naming the device and the reason in
 * err.
 */
int net_tap_new(struct netbe **out, const char *ifname, char *err,
		size_t errlen);

#endif
