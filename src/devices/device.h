/* SPDX-License-Identifier: MIT */
/*
 * What a device sees of the machine it is plugged into: interrupt lines, a
 * way to ask the VM to power off or reset, and the table of device types.
 *
 * Devices never call KVM or the VM directly; they get these small interfaces,
 * so unit tests can plug a device into fakes.
 */
#ifndef MICA_DEVICES_DEVICE_H
#define MICA_DEVICES_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A wire to the interrupt controller: one GSI, driven high or low. */
struct irq_line {
	void (*set_level)(void *opaque, unsigned int gsi, bool level);
	void *opaque;
	unsigned int gsi;
};

static inline void irq_set(const struct irq_line *line, bool level)
{
	if (line->set_level)
		line->set_level(line->opaque, line->gsi, level);
}

/* Requests a device may make of the VM, from any thread. */
enum vm_request {
	VM_REQ_POWEROFF, /* ACPI S5 */
	VM_REQ_RESET, /* i8042 0xFE, ACPI reset register, port 0xCF9 */
	VM_REQ_DEBUG_EXIT, /* test device: stop, and exit with status code */
};

struct vm_ctl {
	/* code: the exit status for VM_REQ_DEBUG_EXIT, 0 otherwise. */
	void (*request)(void *opaque, enum vm_request req, int code);
	void *opaque;
};

static inline void vm_ctl_request(const struct vm_ctl *ctl, enum vm_request req,
				  int code)
{
	if (ctl->request)
		ctl->request(ctl->opaque, req, code);
}

struct bus;
struct guest_mem;
struct pci_host;
struct chardev;
struct vm_config;

/* Everything a platform device may use while it is realized. */
struct device_host {
	struct bus *pio;
	struct bus *mmio;
	const struct guest_mem *mem;
	const struct vm_config *cfg;
	struct vm_ctl ctl;
	/* Drives a GSI of the in-kernel irqchip; see irq_line. */
	void (*irq_set_level)(void *opaque, unsigned int gsi, bool level);
	void *irq_opaque;
	struct chardev *console; /* the terminal's backend */
	struct pci_host *pci; /* the PCI host bridge */

	/*
	 * KVM eventfd plumbing, so devices signal and are signalled without
	 * a trip through the VMM. NULL members (unit tests) mean "not
	 * available": the device falls back to its own dispatch.
	 *
	 * ioeventfd: writes of len bytes at addr (MMIO, or port I/O when
	 * !mmio) signal fd instead of exiting; assign=false removes it.
	 */
	int (*ioeventfd)(void *opaque, bool mmio, uint64_t addr,
			 unsigned int len, int fd, bool assign);
	/*
	 * MSI routes: msi_route_add() binds irqfd fd to a new GSI that
	 * delivers the message (addr, data) and returns the GSI or -errno;
	 * msi_route_update() changes the message; msi_route_del() unbinds.
	 */
	int (*msi_route_add)(void *opaque, uint64_t addr, uint32_t data,
			     int fd);
	int (*msi_route_update)(void *opaque, unsigned int gsi, uint64_t addr,
				uint32_t data);
	void (*msi_route_del)(void *opaque, unsigned int gsi, int fd);
	void *kvm_opaque;

	/* Where realize() puts its message for the user; see device_fail(). */
	char *err;
	size_t errlen;
};

/*
 * For realize(): records the user's message (naming the device and the
 * reason) for the VM to print once, and returns rc.
 */
int device_fail(const struct device_host *host, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline struct irq_line device_irq(const struct device_host *host,
					 unsigned int gsi)
{
	return (struct irq_line){
		.set_level = host->irq_set_level,
		.opaque = host->irq_opaque,
		.gsi = gsi,
	};
}

/*
 * A platform device type. The VM allocates state_size zeroed bytes for each
 * type in platform_devices[] and calls realize(), which registers the
 * device's ranges on the buses (or does nothing if the configuration does not
 * ask for the device). unrealize() frees what realize() made; the VM removes
 * bus ranges itself by destroying the buses.
 */
struct device_type {
	const char *name;
	unsigned long state_size;
	int (*realize)(void *state, const struct device_host *host);
	void (*unrealize)(void *state);
};

/* The one table of platform device types: src/devices/registry.c. */
extern const struct device_type *const platform_devices[];
extern const unsigned int nr_platform_devices;

#endif
