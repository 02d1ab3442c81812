/* SPDX-License-Identifier: MIT */
/*
 * The machine a platform device is plugged into during unit tests: a
 * struct device_host whose buses are real, and whose irqchip, VM and
 * console are fakes that record what the device did to them.
 *
 * A test makes a struct fake_vm, realizes the device under test on it,
 * drives the device through the port-I/O or MMIO bus and checks the
 * recorders. The recorders lock, since some devices (the UART's backend, the
 * RTC's timer) call them from other threads.
 */
#ifndef MICA_TESTS_UNIT_FAKE_H
#define MICA_TESTS_UNIT_FAKE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/e820.h"
#include "backends/chardev.h"
#include "bus/bus.h"
#include "config/config.h"
#include "devices/device.h"

#define FAKE_NR_GSI 32
#define FAKE_NR_REQ 8

/*
 * The irqchip: records the level of each GSI below FAKE_NR_GSI and how many
 * times it went from low to high (an edge-triggered pin sees one interrupt
 * per rise). Other GSIs are ignored.
 */
struct fake_irq {
	pthread_mutex_t lock;
	bool level[FAKE_NR_GSI];
	unsigned int rises[FAKE_NR_GSI];
};

/*
 * The VM's request handler: counts requests, keeps the first FAKE_NR_REQ
 * in order, and the last one with its code.
 */
struct fake_ctl {
	pthread_mutex_t lock;
	unsigned int nr;
	enum vm_request req[FAKE_NR_REQ];
	enum vm_request last_req;
	int last_code;
};

/*
 * A console backend: keeps what the device wrote (up to sizeof(out) bytes),
 * accepts at most `space` more bytes so a test can stall the output (set it
 * with fake_console_space()), and counts the device's rx_ready calls.
 */
struct fake_chardev {
	struct chardev chr; /* first: the ops get a struct chardev * */
	pthread_mutex_t lock;
	uint8_t out[8192];
	size_t out_len;
	size_t space;
	unsigned int rx_ready_calls;
};

struct fake_vm {
	struct bus pio, mmio;
	struct vm_config cfg; /* FAKE_MEMORY of RAM, empty command line */
	struct device_host host; /* wired to the fakes below */
	struct fake_irq irq;
	struct fake_ctl ctl;
	struct fake_chardev console; /* host.console; a test may unplug it */
	/*
	 * A clock that moves only when the test stores to it (ns); the tests
	 * of devices with an injectable clock pass it the fake_vm as opaque.
	 */
	_Atomic int64_t now;
	const struct device_type *type; /* the device under test, or NULL */
	void *state;
};

#define FAKE_MEMORY (256ull << 20)

/*
 * Sets up *f: empty buses, a zeroed configuration with FAKE_MEMORY of RAM,
 * fresh recorders and the console plugged in. Change f->cfg or f->host
 * before realizing a device if a test needs to.
 */
void fake_vm_init(struct fake_vm *f);
/* Unrealizes the device under test, if any, and frees what init made. */
void fake_vm_fini(struct fake_vm *f);
/* Makes type the device under test; a failed realize fails the test. */
void fake_vm_realize(struct fake_vm *f, const struct device_type *type);
/*
 * fake_vm_init() on the heap, then type realized unless it is NULL (a test
 * that changes f->cfg or f->host first realizes it itself); and its undo.
 */
struct fake_vm *fake_vm_new(const struct device_type *type);
void fake_vm_free(struct fake_vm *f);

/* The irq recorder, read under its lock. */
bool fake_irq_level(struct fake_vm *f, unsigned int gsi);
unsigned int fake_irq_rises(struct fake_vm *f, unsigned int gsi);

/* A port-I/O access that must reach a device, or the test fails. */
uint64_t fake_in(struct fake_vm *f, uint16_t port, unsigned int size);
void fake_out(struct fake_vm *f, uint16_t port, unsigned int size, uint64_t v);
uint8_t fake_in8(struct fake_vm *f, uint16_t port);
void fake_out8(struct fake_vm *f, uint16_t port, uint8_t v);

/* The console, under its lock: room for more output, bytes written. */
void fake_console_space(struct fake_vm *f, size_t space);
size_t fake_console_out_len(struct fake_vm *f);
/* Host input to the device's frontend; returns how many bytes it took. */
size_t fake_console_rx(struct fake_vm *f, const char *s);
/* The backend has room again: the frontend's tx_ready. */
void fake_console_tx_ready(struct fake_vm *f);

/* Little-endian reads from a byte buffer, whatever its alignment. */
uint16_t fake_rd16(const uint8_t *p);
uint32_t fake_rd32(const uint8_t *p);
uint64_t fake_rd64(const uint8_t *p);

/*
 * A guest for the kernel loaders: FAKE_BOOT_MEM of RAM laid out as a VM
 * would, its e820 map, and a boot_image with no initrd and the RSDP at
 * LAYOUT_ACPI, as vm.c fills it in.
 */
#define FAKE_BOOT_MEM (64ull << 20)

struct fake_boot {
	struct guest_mem gm;
	struct e820_entry e820[E820_MAX_ENTRIES];
	int nr_e820;
	struct boot_image img;
	struct boot_entry entry;
};

void fake_boot_init(struct fake_boot *b, const char *cmdline);

/* A seeded pseudo-random sequence, for the loaders' mutation loops. */
void fake_rng_seed(uint64_t seed);
uint32_t fake_rng(void);

#endif
