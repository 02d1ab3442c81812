/* SPDX-License-Identifier: MIT */
/*
 * PS/2 (8042) keyboard controller with no keyboard or mouse attached; it is
 * there for the guest's probes and for the reset line. See i8042.c.
 */
#ifndef MICA_DEVICES_I8042_H
#define MICA_DEVICES_I8042_H

#include "devices/device.h"

/* Bytes the controller can queue for the guest to read from port 0x60. */
#define I8042_QUEUE_LEN 16

extern const struct device_type i8042_type;

#endif
