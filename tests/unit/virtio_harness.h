/* SPDX-License-Identifier: MIT */
/*
 * virtio_harness: a fake virtio driver for unit tests of virtio devices
 * behind the modern PCI transport (src/virtio/virtio_pci.c).
 *
 * It plays the guest: a fake machine (tests/unit/fake.h) with guest RAM, a
 * real PCI host (src/pci) and fake KVM hooks; it finds a device by its PCI
 * IDs through CF8/CFC, walks its virtio capabilities, negotiates features,
 * lays out queues in guest RAM (tests/unit/vring.h), enables MSI-X and sets
 * DRIVER_OK, then posts chains, kicks and waits for used elements. The
 * device runs on its own I/O thread; every wait has a timeout
 * (VH_TIMEOUT_MS) that only bounds a failing test.
 *
 * Typical use, for a device type realized from the configuration:
 *
 *	struct vh_host *h = vh_host_new();
 *	struct vh_dev d;
 *	uint8_t status;
 *	uint32_t len;
 *
 *	snprintf(h->vm.cfg.disks[0].path, ...);  // configure, then realize
 *	h->vm.cfg.nr_disks = 1;
 *	fake_vm_realize(&h->vm, &virtio_blk_type);
 *	vh_dev_find(h, &d, VIRTIO_ID_BLOCK, 0);   // the first virtio-blk
 *	vh_dev_start(&d, wanted_features);       // all queues, MSI-X
 *	head = vh_post(&d, 0, out, 1, in_sizes, 1);  // header, then status
 *	vh_kick(&d, 0);
 *	vh_wait_used(&d, 0, &id, &len);          // id == head
 *	vh_read_in(&d, 0, head, 0, &status, 1);  // the device's reply
 *	vh_host_free(h);                         // unrealizes, frees
 *
 * Or for a device made directly from its ops (transport tests):
 * vh_create(h, "test0", &ops, opaque) plugs it, then vh_dev_find() as
 * above. vh_request() does post + kick + wait in one call.
 *
 * Each struct vh_dev is driven by one test thread at a time. Functions
 * that can fail because of the device (a timeout, a refused feature set)
 * return -errno and leave the judgement to the test; misuse of the harness
 * itself fails the test (test_fail) and never crashes.
 */
#ifndef MICA_TESTS_UNIT_VIRTIO_HARNESS_H
#define MICA_TESTS_UNIT_VIRTIO_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "unit/fake.h"
#include "unit/vring.h"
#include "virtio/virtio.h"
#include "virtio/virtio_pci.h"
#include "vm/guest_mem.h"

/*
 * Guest RAM of the harness's machine: 63 MiB from 1 MiB (so address 0 is
 * not RAM), and 1 MiB right below the 32-bit MMIO hole, where the PCI
 * window (and every BAR) starts: a buffer may be made to run off RAM into
 * a device's registers.
 */
#define VH_RAM_GPA 0x100000ull
#define VH_RAM_SIZE (63ull << 20)
#define VH_RAM_TOP_GPA 0xbff00000ull
#define VH_RAM_TOP_SIZE 0x100000ull

#define VH_TIMEOUT_MS 10000
#define VH_MAX_DEVS 16
#define VH_MAX_ROUTES 256
#define VH_QUEUE_DATA (1ull << 20) /* default data area per queue */

/* A fake KVM MSI route: what the PCI host asked the "VM" to deliver. */
struct vh_route {
	bool used;
	uint64_t addr;
	uint32_t data;
	int fd; /* the irqfd: pci_msix_notify() signals it */
};

/* A recorded ioeventfd registration (the fake KVM keeps them). */
struct vh_ioeventfd {
	bool used;
	uint64_t addr;
	unsigned int len;
	int fd;
};

struct vh_host {
	struct fake_vm vm; /* vm.host is wired to everything below */
	struct guest_mem mem;
	struct pci_host *pci;
	gpa_t alloc_next; /* bump allocator in the 63 MiB region */
	unsigned int nr_devs; /* vh_dev_find() calls, for MSI data */
	struct virtio_device *created[VH_MAX_DEVS]; /* by vh_create() */
	unsigned int nr_created;
	pthread_mutex_t lock; /* routes and ioeventfds */
	struct vh_route routes[VH_MAX_ROUTES];
	struct vh_ioeventfd ioeventfds[VH_MAX_ROUTES];
};

/*
 * A fresh machine: fake_vm, guest RAM, PCI host, fake MSI route and
 * ioeventfd hooks. Aborts (a test machine without memory is not a test).
 * vh_host_free() unrealizes h->vm.type if set, destroys the devices from
 * vh_create(), then frees the rest.
 */
struct vh_host *vh_host_new(void);
void vh_host_free(struct vh_host *h);

/* Plugs a device from its ops; fails the test and returns NULL on error. */
struct virtio_device *vh_create(struct vh_host *h, const char *name,
				const struct virtio_device_ops *ops,
				void *opaque);

/*
 * len bytes of guest RAM (align: a power of two), zeroed; fails the test
 * and returns 0 when the RAM is exhausted.
 */
gpa_t vh_alloc(struct vh_host *h, uint64_t len, uint64_t align);
/* Host view of [gpa, gpa + len), or NULL (gm_ptr). */
void *vh_ptr(struct vh_host *h, gpa_t gpa, uint64_t len);

/* PCI configuration space of bus 0 through CF8/CFC; off < 256. */
uint32_t vh_pci_read(struct vh_host *h, unsigned int slot, unsigned int off,
		     unsigned int size);
void vh_pci_write(struct vh_host *h, unsigned int slot, unsigned int off,
		  unsigned int size, uint32_t v);

/* MMIO as the guest does it, through the VM's bus. */
uint64_t vh_mmio_read(struct vh_host *h, uint64_t addr, unsigned int size);
void vh_mmio_write(struct vh_host *h, uint64_t addr, unsigned int size,
		   uint64_t v);

struct vh_queue {
	bool ready; /* set up by vh_queue_setup() */
	uint16_t size;
	gpa_t ring_area, data_area; /* 64 KiB, VH_QUEUE_DATA; kept */
	struct vring vr;
	/* Per posted head: its writable buffers, back to back. */
	gpa_t in_gpa[VIRTQ_MAX_SIZE];
	uint32_t in_len[VIRTQ_MAX_SIZE];
};

/* One buffer the driver hands the device (device-readable). */
struct vh_buf {
	const void *data;
	uint32_t len;
};

struct vh_dev {
	struct vh_host *h;
	unsigned int slot;
	unsigned int index; /* among the host's found devices */
	uint16_t device_id; /* VIRTIO_ID_* */
	uint64_t bar; /* BAR 0's guest-physical address */
	/* Configuration-space offsets of the capabilities; 0: absent. */
	unsigned int cap[VIRTIO_PCI_CAP_PCI_CFG + 1];
	unsigned int cap_msix;
	/* From the capabilities: offsets in BAR 0 and lengths. */
	uint32_t common, notify, isr, device;
	uint32_t common_len, notify_len, isr_len, device_len;
	uint32_t notify_mult;
	/* Driver state. */
	uint64_t offered, features; /* device's offer, negotiated */
	unsigned int nr_queues; /* num_queues */
	bool msix; /* MSI-X enabled by vh_msix_setup() */
	struct vh_queue *q; /* nr_queues of them */
};

/*
 * Finds the nth (from 0) function with virtio device ID id (0x1040 + id),
 * reads BAR 0, walks the capabilities and checks them (each of common,
 * notify, ISR present, in BAR 0 and inside it). Returns 0, -ENODEV, or
 * -EINVAL for bad capabilities (after test_fail). vh_dev_free() frees
 * what it allocated (vh_host_free does not).
 */
int vh_dev_find(struct vh_host *h, struct vh_dev *d, uint16_t id,
		unsigned int nth);
void vh_dev_free(struct vh_dev *d);

/*
 * The whole bring-up: reset, ACKNOWLEDGE, DRIVER, features (wanted &
 * offered, plus VERSION_1), FEATURES_OK, MSI-X (queue q -> vector q,
 * configuration -> vector nr_queues), every queue at its maximum size,
 * DRIVER_OK. Returns 0, -EIO if the device refused FEATURES_OK or set
 * NEEDS_RESET, -errno otherwise.
 */
int vh_dev_start(struct vh_dev *d, uint64_t wanted);

/* The steps of vh_dev_start(), for tests that do things in between. */
int vh_reset(struct vh_dev *d); /* 0 once status reads 0, else -EIO */
uint8_t vh_status(struct vh_dev *d);
void vh_set_status(struct vh_dev *d, uint8_t bits); /* status |= bits */
uint64_t vh_device_features(struct vh_dev *d);
/* Writes driver features, sets FEATURES_OK; -EIO if it did not stick. */
int vh_negotiate(struct vh_dev *d, uint64_t features);
void vh_msix_setup(struct vh_dev *d);
/* Rings in guest RAM, size (0: the maximum), vector, enable. */
int vh_queue_setup(struct vh_dev *d, unsigned int q, uint16_t size);
/* Sets DRIVER_OK; -EIO if the device answered with NEEDS_RESET. */
int vh_driver_ok(struct vh_dev *d);

/* Register access: common configuration, device configuration, ISR. */
uint64_t vh_common_read(struct vh_dev *d, uint32_t off, unsigned int size);
void vh_common_write(struct vh_dev *d, uint32_t off, unsigned int size,
		     uint64_t v);
uint64_t vh_cfg_read(struct vh_dev *d, uint32_t off, unsigned int size);
void vh_cfg_write(struct vh_dev *d, uint32_t off, unsigned int size,
		  uint64_t v);
uint8_t vh_isr_read(struct vh_dev *d); /* reading clears it */
/* Selects queue q and reads/writes a queue field. */
uint64_t vh_queue_read(struct vh_dev *d, unsigned int q, uint32_t off,
		       unsigned int size);
void vh_queue_write(struct vh_dev *d, unsigned int q, uint32_t off,
		    unsigned int size, uint64_t v);

/*
 * Posts a chain: nr_out device-readable buffers (copied into guest RAM),
 * then nr_in device-writable buffers of in_sizes bytes (zeroed, back to
 * back in guest RAM). Returns the head, or -errno (-ENOSPC: ring full).
 * Contents of a completed chain's buffers stay readable until the next
 * post on that queue once every posted chain has come back.
 */
int vh_post(struct vh_dev *d, unsigned int q, const struct vh_buf *out,
	    unsigned int nr_out, const uint32_t *in_sizes, unsigned int nr_in);
/* A chain of raw segments (for hostile tests: any address and length). */
int vh_post_raw(struct vh_dev *d, unsigned int q, const struct vring_seg *segs,
		unsigned int n);
/* Notifies queue q through the notify register (as a guest would). */
void vh_kick(struct vh_dev *d, unsigned int q);
/* The next used element, if there is one. */
bool vh_poll_used(struct vh_dev *d, unsigned int q, uint32_t *id,
		  uint32_t *len);
/* Waits for the next used element: 0, or -ETIMEDOUT. */
int vh_wait_used(struct vh_dev *d, unsigned int q, uint32_t *id, uint32_t *len);
/* post + kick + wait, checking the id. Returns the used len or -errno. */
int vh_request(struct vh_dev *d, unsigned int q, const struct vh_buf *out,
	       unsigned int nr_out, const uint32_t *in_sizes,
	       unsigned int nr_in, int *head);
/* Copies from the writable buffers of chain head (from byte off). */
uint64_t vh_read_in(struct vh_dev *d, unsigned int q, int head, uint64_t off,
		    void *dst, uint64_t len);
/* Host view of chain head's writable buffers, in_len[head] bytes. */
void *vh_in_ptr(struct vh_dev *d, unsigned int q, int head);

/*
 * Interrupts. With MSI-X: how many times vector fired since the last
 * call (0 if none); vh_wait_msix() waits for at least one. Without: the
 * INTx line's level (ISR-driven).
 */
unsigned int vh_msix_count(struct vh_dev *d, unsigned int vector);
int vh_wait_msix(struct vh_dev *d, unsigned int vector);
bool vh_intx_level(struct vh_dev *d);
/* Waits until status has all of bits set: 0, or -ETIMEDOUT. */
int vh_wait_status(struct vh_dev *d, uint8_t bits);

/* Whether an ioeventfd is registered at addr (fake KVM). */
bool vh_ioeventfd_at(struct vh_host *h, uint64_t addr);

#endif
