/* SPDX-License-Identifier: MIT */
/*
 * User-mode networking through libslirp: see slirp.c for the network the
 * guest sees and how the backend's thread works.
 */
#ifndef MICA_BACKENDS_SLIRP_H
#define MICA_BACKENDS_SLIRP_H

#include <stddef.h>

#include "backends/net.h"

struct net_config;

/* The guest's network (the addresses QEMU's user networking uses too). */
#define NET_SLIRP_NETWORK "10.0.2.0"
#define NET_SLIRP_NETMASK "255.255.255.0"
#define NET_SLIRP_HOST "10.0.2.2" /* the host: its loopback, and gateway */
#define NET_SLIRP_DNS "10.0.2.3" /* forwards to the host's resolver */
#define NET_SLIRP_DHCP_START "10.0.2.15" /* the first (usual) lease */
#define NET_SLIRP_PREFIX6 "fec0::" /* /64, by router advertisements */
#define NET_SLIRP_HOST6 "fec0::2"
#define NET_SLIRP_DNS6 "fec0::3"
#define NET_SLIRP_MTU 1500

/*
 * Creates the backend for cfg (its hostfwd rules) and starts its thread.
 * Returns 0, or -errno with a message naming the option in err.
 */
int net_slirp_new(struct netbe **out, const struct net_config *cfg, char *err,
		  size_t errlen);

#endif
