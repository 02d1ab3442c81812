/* SPDX-License-Identifier: MIT */
/*
 * The reset control register at port 0xcf9 (PORT_RESET). See reset.c.
 */
#ifndef MICA_DEVICES_RESET_H
#define MICA_DEVICES_RESET_H

#include "devices/device.h"

extern const struct device_type reset_type;

#endif
