// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: virtio-console and virtio-rng request chains.
 *
 * The input is a small program followed by a guest-memory image. The image
 * is copied to the start of a 64 KiB guest RAM that holds the rings of the
 * console's two queues and the rng's queue at fixed places (so the fuzzer
 * writes descriptors, avail indices and buffers directly); the program
 * then drives the devices as their transport and backends would: queue
 * kicks, host input, a backend that fills up and drains (tx_ready), the
 * rate timer firing, the clock moving, resets. Guest-controlled here:
 * everything in the image. Checked: no crash, leak or undefined behaviour
 * (ASan/UBSan), the staged input never exceeds what the host sent, and
 * the backend is detached when the console goes.
 *
 * Input layout:
 *   byte 0      queue size exponent (bits 0-2: size 1 << n, at most 64),
 *               EVENT_IDX (bit 3), INDIRECT_DESC (bit 4)
 *   byte 1      rng rate: (byte + 1) * 64 bytes/s
 *   byte 2      length of the program, at most 64
 *   program     one byte per step: bits 0-2 the operation, 3-7 its argument
 *   the rest    the guest-memory image, from address 0
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/chardev.h"
#include "util/log.h"
#include "virtio/console.h"
#include "virtio/rng.h"
#include "virtio/virtqueue.h"
#include "vm/guest_mem.h"

#define RAM_SIZE 0x10000ull
/*
 * Ring places: each queue has desc at +0, avail at +0x400 and used at
 * +0x500 (room for 64 entries); buffers may go anywhere, 0x1800 up is free.
 */
#define RX_RINGS 0x0000ull
#define TX_RINGS 0x0800ull
#define RNG_RINGS 0x1000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem gm;

/* A backend with a variable amount of room, counting what it got. */
struct fuzz_chardev {
	struct chardev chr;
	size_t space;
	uint64_t written;
	unsigned int rx_ready_calls;
};

static size_t fuzz_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
	struct fuzz_chardev *c = (struct fuzz_chardev *)chr;
	volatile uint8_t sink = 0;
	size_t n = len < c->space ? len : c->space, i;

	for (i = 0; i < n; i++) /* ASan checks every byte handed over */
		sink ^= buf[i];
	(void)sink;
	c->space -= n;
	c->written += n;
	return n;
}

static void fuzz_rx_ready(struct chardev *chr)
{
	((struct fuzz_chardev *)chr)->rx_ready_calls++;
}

static const struct chardev_ops fuzz_chardev_ops = {
	.write = fuzz_write,
	.rx_ready = fuzz_rx_ready,
};

static int64_t now_ns;

static int64_t fuzz_clock(void *opaque)
{
	(void)opaque;
	return now_ns;
}

static void queue_init(struct virtq *vq, gpa_t rings, uint8_t cfg)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = &gm;
	vq->size = (uint16_t)(1u << ((cfg & 7) > 6 ? 6 : cfg & 7));
	vq->desc = rings;
	vq->avail = rings + 0x400;
	vq->used = rings + 0x500;
	vq->event_idx = cfg & 0x08;
	vq->indirect = cfg & 0x10;
	virtq_init(vq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t input[4096];
	struct fuzz_chardev chr = {
		.chr = { .ops = &fuzz_chardev_ops },
		.space = 64,
	};
	struct virtq rxq, txq, rngq;
	struct virtio_console *c;
	struct virtio_rng *r;
	const uint8_t *prog;
	uint64_t sent = 0;
	size_t nprog, i;
	uint8_t cfg;

	if (size < 3)
		return 0;
	if (!gm.nr_regions) {
		struct gm_range ram = { .gpa = 0, .size = RAM_SIZE };

		log_threshold = LOG_ERROR;
		if (gm_alloc(&gm, &ram, 1))
			abort();
		for (i = 0; i < sizeof(input); i++)
			input[i] = (uint8_t)(i % 251);
	}
	cfg = data[0];
	nprog = data[2] > 64 ? 64 : data[2];
	if (size < 3 + nprog)
		return 0;
	prog = data + 3;
	memset(gm.regions[0].host, 0, RAM_SIZE);
	memcpy(gm.regions[0].host, data + 3 + nprog,
	       size - 3 - nprog < RAM_SIZE ? size - 3 - nprog : RAM_SIZE);

	now_ns = 0;
	c = virtio_console_new(&chr.chr);
	r = virtio_rng_new(((uint64_t)data[1] + 1) * 64);
	if (!c || !r)
		abort();
	virtio_rng_set_clock(r, fuzz_clock, NULL);
	queue_init(&rxq, RX_RINGS, cfg);
	queue_init(&txq, TX_RINGS, cfg);
	queue_init(&rngq, RNG_RINGS, cfg);
	virtio_console_start(c, &rxq, &txq);
	virtio_rng_start(r, &rngq);

	for (i = 0; i < nprog; i++) {
		unsigned int arg = prog[i] >> 3;

		switch (prog[i] & 7) {
		case 0:
			virtio_console_kick(c, VIRTIO_CONSOLE_TXQ);
			break;
		case 1:
			virtio_console_kick(c, VIRTIO_CONSOLE_RXQ);
			break;
		case 2: /* host input, as the backend delivers it */
			if (chr.chr.fe)
				sent += chr.chr.fe->receive(chr.chr.fe_opaque,
							    input,
							    (size_t)arg * 128);
			break;
		case 3: /* the backend drained */
			chr.space += (size_t)arg * 16;
			chr.chr.fe->tx_ready(chr.chr.fe_opaque);
			break;
		case 4:
			virtio_console_poll(c);
			break;
		case 5: /* driver reset: the queues come back initialised */
			if (arg & 1) {
				virtio_console_stop(c);
				queue_init(&rxq, RX_RINGS, cfg);
				queue_init(&txq, TX_RINGS, cfg);
				virtio_console_start(c, &rxq, &txq);
			} else {
				virtio_rng_stop(r);
				queue_init(&rngq, RNG_RINGS, cfg);
				virtio_rng_start(r, &rngq);
			}
			break;
		case 6:
			virtio_rng_kick(r);
			break;
		case 7: /* time passes, the rate timer fires */
			now_ns += (int64_t)arg * 50000000;
			virtio_rng_poll(r);
			break;
		}
	}

	/* The device never holds more input than the host sent. */
	if (virtio_console_staged(c) > sent)
		abort();
	virtio_rng_free(r);
	virtio_console_free(c);
	if (chr.chr.fe)
		abort(); /* detached */
	return 0;
}
