/* SPDX-License-Identifier: MIT */
/* virtio-net: see net.c. */
#ifndef MICA_VIRTIO_NET_H
#define MICA_VIRTIO_NET_H

#include "devices/device.h"

extern const struct device_type virtio_net_type;

#endif
