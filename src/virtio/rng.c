// SPDX-License-Identifier: MIT
/* virtio-rng: placeholder while the device is being written. */
#include "virtio/rng.h"

static int virtio_rng_realize(void *state, const struct device_host *host)
{
	(void)state;
	(void)host;
	return 0;
}

static void virtio_rng_unrealize(void *state)
{
	(void)state;
}

const struct device_type virtio_rng_type = {
	.name = "virtio-rng",
	.state_size = 1,
	.realize = virtio_rng_realize,
	.unrealize = virtio_rng_unrealize,
};
