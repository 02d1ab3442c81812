/* SPDX-License-Identifier: MIT */
/* virtio-console: see console.c. */
#ifndef MICA_VIRTIO_CONSOLE_H
#define MICA_VIRTIO_CONSOLE_H

#include "devices/device.h"

extern const struct device_type virtio_console_type;

#endif
