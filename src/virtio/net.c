// SPDX-License-Identifier: MIT
/* virtio-net: placeholder while the device is being written. */
#include "virtio/net.h"

static int virtio_net_realize(void *state, const struct device_host *host)
{
	(void)state;
	(void)host;
	return 0;
}

static void virtio_net_unrealize(void *state)
{
	(void)state;
}

const struct device_type virtio_net_type = {
	.name = "virtio-net",
	.state_size = 1,
	.realize = virtio_net_realize,
	.unrealize = virtio_net_unrealize,
};
