// SPDX-License-Identifier: MIT
/*
 * The one table of platform device types. The VM realizes them in this
 * order and unrealizes them in reverse. tests/unit/test_registry.c lists
 * every device header's type and checks that it is here.
 */
#include <stdarg.h>
#include <stdio.h>

#include "devices/debug_exit.h"
#include "devices/device.h"
#include "devices/i8042.h"
#include "devices/pm.h"
#include "devices/reset.h"
#include "devices/rtc.h"
#include "devices/uart16550.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/rng.h"

const struct device_type *const platform_devices[] = {
	&uart16550_type,
	&i8042_type,
	&rtc_type,
	&pm_type,
	&reset_type,
	&debug_exit_type,
	/* virtio over PCI, after the platform (the PCI host is the VM's) */
	&virtio_blk_type,
	&virtio_net_type,
	&virtio_console_type,
	&virtio_rng_type,
};

const unsigned int nr_platform_devices =
	sizeof(platform_devices) / sizeof(platform_devices[0]);

int device_fail(const struct device_host *host, int rc, const char *fmt, ...)
{
	va_list ap;

	if (host->err && host->errlen) {
		va_start(ap, fmt);
		vsnprintf(host->err, host->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}
