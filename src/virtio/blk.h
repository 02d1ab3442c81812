/* SPDX-License-Identifier: MIT */
/* virtio-blk: see blk.c. */
#ifndef MICA_VIRTIO_BLK_H
#define MICA_VIRTIO_BLK_H

#include "devices/device.h"

extern const struct device_type virtio_blk_type;

#endif
