// SPDX-License-Identifier: MIT
/* virtio-blk: placeholder while the device is being written. */
#include "virtio/blk.h"

static int virtio_blk_realize(void *state, const struct device_host *host)
{
	(void)state;
	(void)host;
	return 0;
}

static void virtio_blk_unrealize(void *state)
{
	(void)state;
}

const struct device_type virtio_blk_type = {
	.name = "virtio-blk",
	.state_size = 1,
	.realize = virtio_blk_realize,
	.unrealize = virtio_blk_unrealize,
};
