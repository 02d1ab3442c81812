/* SPDX-License-Identifier: MIT */
/* virtio-rng: see rng.c. */
#ifndef MICA_VIRTIO_RNG_H
#define MICA_VIRTIO_RNG_H

#include "devices/device.h"

extern const struct device_type virtio_rng_type;

#endif
