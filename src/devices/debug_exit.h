/* SPDX-License-Identifier: MIT */
/*
 * Test-only device (--debug-exit): an exit port and MMIO scratch registers.
 * See debug_exit.c.
 */
#ifndef MICA_DEVICES_DEBUG_EXIT_H
#define MICA_DEVICES_DEBUG_EXIT_H

#include "devices/device.h"

#define DEBUG_EXIT_NR_PORTS 4

extern const struct device_type debug_exit_type;

#endif
