// SPDX-License-Identifier: MIT
/* virtio-console: placeholder while the device is being written. */
#include "virtio/console.h"

static int virtio_console_realize(void *state, const struct device_host *host)
{
	(void)state;
	(void)host;
	return 0;
}

static void virtio_console_unrealize(void *state)
{
	(void)state;
}

const struct device_type virtio_console_type = {
	.name = "virtio-console",
	.state_size = 1,
	.realize = virtio_console_realize,
	.unrealize = virtio_console_unrealize,
};
