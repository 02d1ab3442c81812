// SPDX-License-Identifier: MIT
/*
 * Building, running and tearing down one VM. Inputs are the validated
 * configuration and the user's kernel and initrd files; the guest reaches
 * this file only through stop requests from devices and vCPUs.
 */
#include "vm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/boot.h"
#include "arch/x86_64/e820.h"
#include "arch/x86_64/layout.h"
#include "devices/device.h"
#include "devices/pm.h"
#include "pci/pci.h"
#include "util/log.h"
#include "util/loop.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "vm/vcpu.h"

static int vm_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int vm_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

void vm_request_stop(struct vm *vm, enum vm_stop reason, int code)
{
	bool first;

	pthread_mutex_lock(&vm->stop_lock);
	first = vm->stop == VM_STOP_NONE;
	if (first) {
		vm->stop = reason;
		vm->stop_code = code;
	}
	pthread_mutex_unlock(&vm->stop_lock);
	atomic_store(&vm->stopping, true);
	if (first)
		event_signal(vm->stop_event);
}

static void irq_set_level(void *opaque, unsigned int gsi, bool level)
{
	struct vm *vm = opaque;
	int rc = kvm_irq_line(&vm->kvm, gsi, level);

	if (rc)
		log_warn("KVM_IRQ_LINE %u: %s", gsi, strerror(-rc));
}

static void device_request(void *opaque, enum vm_request req, int code)
{
	struct vm *vm = opaque;

	switch (req) {
	case VM_REQ_POWEROFF:
		vm_request_stop(vm, VM_STOP_POWEROFF, 0);
		break;
	case VM_REQ_RESET:
		vm_request_stop(vm, VM_STOP_RESET, 0);
		break;
	case VM_REQ_DEBUG_EXIT:
		vm_request_stop(vm, VM_STOP_DEBUG_EXIT, code);
		break;
	}
}

/*
 * GSI routing. KVM starts with a default table (virt/kvm/irqchip.c and
 * arch/x86/kvm/irq_comm.c): GSIs 0-23 to the IOAPIC pins of the same
 * number, GSIs 0-15 also to the 8259 pins (master 0-7, slave 8-15).
 * KVM_SET_GSI_ROUTING replaces the table, so every commit repeats those
 * routes before the MSI routes, which take GSIs from 24 up.
 */
#define IRQCHIP_GSIS 24
#define PIC_GSIS 16
#define NR_DEFAULT_ROUTES (IRQCHIP_GSIS + PIC_GSIS)

static unsigned int default_routes(struct kvm_irq_routing_entry *e)
{
	unsigned int n = 0;

	for (unsigned int gsi = 0; gsi < IRQCHIP_GSIS; gsi++) {
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC,
				       .pin = gsi },
		};
		if (gsi >= PIC_GSIS)
			continue;
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip =
					       gsi < 8 ?
						       KVM_IRQCHIP_PIC_MASTER :
						       KVM_IRQCHIP_PIC_SLAVE,
				       .pin = gsi % 8 },
		};
	}
	return n;
}

/* With route_lock held: the whole table, defaults and MSI routes, to KVM. */
static int commit_routes(struct vm *vm)
{
	return kvm_set_gsi_routing(&vm->kvm, vm->routes, vm->nr_routes);
}

/* An MSI route (never one of the defaults). */
static struct kvm_irq_routing_entry *find_route(struct vm *vm, unsigned int gsi)
{
	for (unsigned int i = NR_DEFAULT_ROUTES; i < vm->nr_routes; i++)
		if (vm->routes[i].gsi == gsi)
			return &vm->routes[i];
	return NULL;
}

static void drop_route(struct vm *vm, struct kvm_irq_routing_entry *e)
{
	*e = vm->routes[--vm->nr_routes];
}

static struct kvm_irq_routing_entry msi_entry(unsigned int gsi, uint64_t addr,
					      uint32_t data)
{
	return (struct kvm_irq_routing_entry){
		.gsi = gsi,
		.type = KVM_IRQ_ROUTING_MSI,
		.u.msi = { .address_lo = (uint32_t)addr,
			   .address_hi = (uint32_t)(addr >> 32),
			   .data = data },
	};
}

static int vm_msi_route_add(void *opaque, uint64_t addr, uint32_t data, int fd)
{
	struct vm *vm = opaque;
	struct kvm_irq_routing_entry *e;
	unsigned int gsi;
	int rc;

	pthread_mutex_lock(&vm->route_lock);
	for (gsi = IRQCHIP_GSIS; gsi < vm->gsi_count && find_route(vm, gsi);
	     gsi++)
		;
	if (gsi >= vm->gsi_count) {
		rc = -ENOSPC;
		goto out;
	}
	if (vm->nr_routes == vm->routes_cap) {
		unsigned int cap = vm->routes_cap ? 2 * vm->routes_cap :
						    NR_DEFAULT_ROUTES + 32;

		e = realloc(vm->routes, cap * sizeof(*e));
		if (!e) {
			rc = -ENOMEM;
			goto out;
		}
		vm->routes = e;
		vm->routes_cap = cap;
		/* The first MSI route brings the defaults it is committed with. */
		if (!vm->nr_routes)
			vm->nr_routes = default_routes(e);
	}
	e = &vm->routes[vm->nr_routes++];
	*e = msi_entry(gsi, addr, data);
	rc = commit_routes(vm);
	if (rc) {
		drop_route(vm, e);
		goto out;
	}
	rc = kvm_irqfd(&vm->kvm, fd, gsi, true);
	if (rc) {
		drop_route(vm, e);
		commit_routes(vm);
		goto out;
	}
	rc = (int)gsi;
out:
	pthread_mutex_unlock(&vm->route_lock);
	return rc;
}

static int vm_msi_route_update(void *opaque, unsigned int gsi, uint64_t addr,
			       uint32_t data)
{
	struct vm *vm = opaque;
	struct kvm_irq_routing_entry *e, old;
	int rc = -ENOENT;

	pthread_mutex_lock(&vm->route_lock);
	e = find_route(vm, gsi);
	if (e) {
		old = *e;
		*e = msi_entry(gsi, addr, data);
		rc = commit_routes(vm);
		if (rc)
			*e = old;
	}
	pthread_mutex_unlock(&vm->route_lock);
	return rc;
}

static void vm_msi_route_del(void *opaque, unsigned int gsi, int fd)
{
	struct vm *vm = opaque;
	struct kvm_irq_routing_entry *e;
	int rc;

	pthread_mutex_lock(&vm->route_lock);
	rc = kvm_irqfd(&vm->kvm, fd, gsi, false);
	if (rc)
		log_warn("KVM_IRQFD deassign, GSI %u: %s", gsi, strerror(-rc));
	e = find_route(vm, gsi);
	if (e) {
		drop_route(vm, e);
		rc = commit_routes(vm);
		if (rc)
			log_warn("KVM_SET_GSI_ROUTING: %s", strerror(-rc));
	}
	pthread_mutex_unlock(&vm->route_lock);
}

static int vm_ioeventfd(void *opaque, bool mmio, uint64_t addr,
			unsigned int len, int fd, bool assign)
{
	struct vm *vm = opaque;

	return kvm_ioeventfd(&vm->kvm, mmio, addr, len, fd, assign);
}

static int create_memory(struct vm *vm, char *err, size_t errlen)
{
	struct gm_range ranges[2];
	unsigned int nr = e820_ram_ranges(vm->cfg->memory, ranges), i;
	int rc;

	rc = gm_alloc(&vm->mem, ranges, nr);
	if (rc)
		return vm_fail(err, errlen, rc,
			       "cannot reserve %llu MiB of guest memory: %s",
			       (unsigned long long)(vm->cfg->memory >> 20),
			       strerror(-rc));
	for (i = 0; i < vm->mem.nr_regions; i++) {
		const struct gm_region *r = &vm->mem.regions[i];

		rc = kvm_set_memory_region(&vm->kvm, i, r->gpa, r->size,
					   r->host);
		if (rc)
			return vm_fail(err, errlen, rc,
				       "KVM_SET_USER_MEMORY_REGION: %s",
				       strerror(-rc));
	}
	return 0;
}

static int create_devices(struct vm *vm, char *err, size_t errlen)
{
	struct device_host host = {
		.pio = &vm->pio,
		.mmio = &vm->mmio,
		.mem = &vm->mem,
		.cfg = vm->cfg,
		.ctl = { .request = device_request, .opaque = vm },
		.irq_set_level = irq_set_level,
		.irq_opaque = vm,
		.console = vm->console,
		.ioeventfd = vm_ioeventfd,
		.msi_route_add = vm_msi_route_add,
		.msi_route_update = vm_msi_route_update,
		.msi_route_del = vm_msi_route_del,
		.kvm_opaque = vm,
	};
	unsigned int i;
	int rc;

	rc = kvm_gsi_count(&vm->kvm);
	if (rc <= IRQCHIP_GSIS)
		return vm_fail(err, errlen, rc < 0 ? rc : -ENOTSUP,
			       "KVM_CAP_IRQ_ROUTING: KVM routes only %d GSIs",
			       rc);
	vm->gsi_count = (unsigned int)rc;
	/* The PCI host first: devices plug into it. */
	rc = pci_host_init(&vm->pci, &host);
	if (rc)
		return vm_fail(err, errlen, rc, "creating the PCI host: %s",
			       strerror(-rc));
	host.pci = vm->pci;

	vm->devices = calloc(nr_platform_devices, sizeof(*vm->devices));
	if (!vm->devices)
		return vm_fail(err, errlen, -ENOMEM, "out of memory");
	for (i = 0; i < nr_platform_devices; i++) {
		const struct device_type *t = platform_devices[i];
		void *state = calloc(1, t->state_size);

		if (!state)
			return vm_fail(err, errlen, -ENOMEM, "out of memory");
		host.err = err;
		host.errlen = errlen;
		err[0] = '\0';
		rc = t->realize(state, &host);
		if (rc) {
			free(state);
			if (err[0]) /* the device's own message */
				return rc;
			return vm_fail(err, errlen, rc, "device %s: %s",
				       t->name, strerror(-rc));
		}
		vm->devices[i] = state;
	}
	return 0;
}

static int build_acpi(struct vm *vm, char *err, size_t errlen)
{
	const struct acpi_config acfg = {
		.nr_cpus = vm->cfg->cpus,
		.base_gpa = LAYOUT_ACPI,
	};
	void *buf = gm_ptr(&vm->mem, LAYOUT_ACPI, LAYOUT_ACPI_SIZE);
	size_t used;
	int rc;

	if (!buf)
		return vm_fail(err, errlen, -EFAULT, "no RAM for ACPI tables");
	rc = acpi_build(&acfg, buf, LAYOUT_ACPI_SIZE, &used);
	if (rc)
		return vm_fail(err, errlen, rc, "building ACPI tables: %s",
			       strerror(-rc));
	return 0;
}

/* Opens a user's file for reading; a directory or an empty file is an error. */
static int open_input(const char *what, const char *path, int *fd,
		      uint64_t *size, char *err, size_t errlen)
{
	struct stat st;
	int rc;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return vm_fail(err, errlen, -errno, "%s '%s': %s", what, path,
			       strerror(errno));
	if (fstat(*fd, &st)) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		vm_fail(err, errlen, rc, "%s '%s': not a regular file", what,
			path);
		goto out;
	}
	if (st.st_size == 0) {
		rc = -EINVAL;
		vm_fail(err, errlen, rc, "%s '%s': file is empty", what, path);
		goto out;
	}
	*size = (uint64_t)st.st_size;
	return 0;
fail:
	vm_fail(err, errlen, rc, "%s '%s': %s", what, path, strerror(-rc));
out:
	close(*fd);
	*fd = -1;
	return rc;
}

static int load_kernel(struct vm *vm, struct boot_entry *entry, char *err,
		       size_t errlen)
{
	struct gm_range ranges[GM_MAX_REGIONS];
	struct e820_entry map[E820_MAX_ENTRIES];
	struct boot_image img = { .initrd_fd = -1 };
	void *kernel = MAP_FAILED;
	uint64_t ksize = 0;
	int kfd = -1, rc, n;
	unsigned int i;

	for (i = 0; i < vm->mem.nr_regions; i++)
		ranges[i] =
			(struct gm_range){ .gpa = vm->mem.regions[i].gpa,
					   .size = vm->mem.regions[i].size };
	n = e820_build(ranges, vm->mem.nr_regions, map);
	if (n < 0)
		return vm_fail(err, errlen, n, "bad memory layout");
	rc = open_input("--kernel", vm->cfg->kernel, &kfd, &ksize, err, errlen);
	if (rc)
		return rc;
	kernel = mmap(NULL, ksize, PROT_READ, MAP_PRIVATE, kfd, 0);
	if (kernel == MAP_FAILED) {
		rc = vm_fail(err, errlen, -errno, "--kernel '%s': %s",
			     vm->cfg->kernel, strerror(errno));
		goto out;
	}
	if (vm->cfg->initrd) {
		rc = open_input("--initrd", vm->cfg->initrd, &img.initrd_fd,
				&img.initrd_size, err, errlen);
		if (rc)
			goto out;
	}
	img.kernel = kernel;
	img.kernel_size = ksize;
	img.cmdline = vm->cfg->cmdline;
	img.e820 = map;
	img.nr_e820 = (unsigned int)n;
	img.low_ram_end = ranges[0].size;
	img.rsdp = LAYOUT_ACPI;
	rc = boot_load_kernel(&vm->mem, &img, entry);
	if (rc) {
		vm_fail(err, errlen, rc, "%s '%s': %s",
			img.err_initrd ? "--initrd" : "--kernel",
			img.err_initrd ? vm->cfg->initrd : vm->cfg->kernel,
			img.err);
		goto out;
	}
	rc = boot_write_cpu_tables(&vm->mem, entry->mode);
	if (rc)
		vm_fail(err, errlen, rc, "no guest RAM for boot page tables");
out:
	if (kernel != MAP_FAILED)
		munmap(kernel, ksize);
	if (kfd >= 0)
		close(kfd);
	if (img.initrd_fd >= 0)
		close(img.initrd_fd);
	return rc;
}

static int create_vcpus(struct vm *vm, const struct boot_entry *entry,
			char *err, size_t errlen)
{
	unsigned int i;
	int rc;

	rc = kvm_get_supported_cpuid(&vm->kvm, &vm->supported_cpuid);
	if (rc)
		return vm_fail(err, errlen, rc, "KVM_GET_SUPPORTED_CPUID: %s",
			       strerror(-rc));
	vm->vcpus = calloc(vm->cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return vm_fail(err, errlen, -ENOMEM, "out of memory");
	for (i = 0; i < vm->cfg->cpus; i++) {
		rc = vcpu_init(&vm->vcpus[i], vm, i);
		if (rc)
			return vm_fail(
				err, errlen, rc, "creating vCPU %u: %s%s", i,
				strerror(-rc),
				rc == -EINVAL ?
					" (more vCPUs than KVM allows?)" :
					"");
		vm->nr_vcpus++;
	}
	/* APs wait for INIT/SIPI from the boot CPU, in the in-kernel LAPIC. */
	rc = vcpu_set_boot_state(&vm->vcpus[0], entry);
	if (rc)
		return vm_fail(err, errlen, rc, "setting boot CPU state: %s",
			       strerror(-rc));
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg,
	      struct chardev *console, char *err, size_t errlen)
{
	struct boot_entry entry;
	const char *what;
	int rc;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->console = console;
	vm->kvm.sys_fd = vm->kvm.vm_fd = -1;
	vm->stop_event = -1;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->route_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->parked_cond, NULL);
	pthread_cond_init(&vm->resume_cond, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");

	rc = event_new();
	if (rc < 0) {
		vm_fail(err, errlen, rc, "eventfd: %s", strerror(-rc));
		goto fail;
	}
	vm->stop_event = rc;

	rc = kvm_open(&vm->kvm, &what);
	if (rc) {
		if (rc == -ENOTSUP)
			vm_fail(err, errlen, rc,
				"%s: KVM on this host lacks %s",
				kvm_device_path(), what);
		else
			vm_fail(err, errlen, rc, "%s: %s%s", what,
				strerror(-rc),
				rc == -EACCES ?
					" (run as root or join the kvm group)" :
				rc == -ENOENT ?
					" (is the kvm module loaded, and is "
					"virtualization enabled?)" :
					"");
		goto fail;
	}
	rc = create_memory(vm, err, errlen);
	if (rc)
		goto fail;
	rc = kvm_create_platform(&vm->kvm, LAYOUT_TSS, LAYOUT_IDENTITY_MAP);
	if (rc) {
		vm_fail(err, errlen, rc, "creating the in-kernel irqchip: %s",
			strerror(-rc));
		goto fail;
	}
	rc = create_devices(vm, err, errlen);
	if (!rc)
		rc = build_acpi(vm, err, errlen);
	if (!rc)
		rc = load_kernel(vm, &entry, err, errlen);
	if (!rc)
		rc = create_vcpus(vm, &entry, err, errlen);
	if (rc)
		goto fail;
	return 0;
fail:
	vm_destroy(vm);
	return rc;
}

int vm_start(struct vm *vm, char *err, size_t errlen)
{
	unsigned int i;
	int rc;

	vm->start_ns = clock_ns();
	for (i = 0; i < vm->nr_vcpus; i++) {
		rc = vcpu_start(&vm->vcpus[i]);
		if (rc == -EINVAL && vm->cfg->nr_vcpu_affinity) {
			vm_request_stop(vm, VM_STOP_HOST_ERROR, 0);
			return vm_fail(err, errlen, rc,
				       "--vcpu-affinity: host CPU %u for vCPU "
				       "%u is not one mica may run on",
				       vm->cfg->vcpu_affinity
					       [i % vm->cfg->nr_vcpu_affinity],
				       i);
		}
		if (rc) {
			vm_request_stop(vm, VM_STOP_HOST_ERROR, 0);
			return vm_fail(err, errlen, rc,
				       "starting vCPU thread %u: %s", i,
				       strerror(-rc));
		}
	}
	return 0;
}

void vm_join(struct vm *vm)
{
	unsigned int i;

	atomic_store(&vm->stopping, true);
	/* Parked vCPUs wait on resume_cond: wake them to see stopping. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->resume_cond);
	pthread_cond_broadcast(&vm->parked_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
}

void vm_destroy(struct vm *vm)
{
	unsigned int i;

	vm_join(vm);
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
	if (vm->devices) {
		for (i = 0; i < nr_platform_devices; i++) {
			if (!vm->devices[i])
				continue;
			if (platform_devices[i]->unrealize)
				platform_devices[i]->unrealize(vm->devices[i]);
			free(vm->devices[i]);
		}
		free(vm->devices);
		vm->devices = NULL;
	}
	pci_host_destroy(vm->pci);
	vm->pci = NULL;
	free(vm->routes);
	vm->routes = NULL;
	vm->nr_routes = vm->routes_cap = 0;
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	free(vm->supported_cpuid);
	vm->supported_cpuid = NULL;
	kvm_close(&vm->kvm);
	gm_free(&vm->mem);
	if (vm->stop_event >= 0)
		close(vm->stop_event);
	vm->stop_event = -1;
	pthread_mutex_destroy(&vm->route_lock);
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_cond_destroy(&vm->resume_cond);
	pthread_cond_destroy(&vm->parked_cond);
	pthread_mutex_destroy(&vm->pause_lock);
}

/* ---- the control API's actions (main thread) ---- */

int vm_pause(struct vm *vm)
{
	unsigned int i, started = 0;

	pthread_mutex_lock(&vm->pause_lock);
	if (atomic_load(&vm->stopping)) {
		pthread_mutex_unlock(&vm->pause_lock);
		return -ESRCH;
	}
	if (atomic_load(&vm->paused)) {
		pthread_mutex_unlock(&vm->pause_lock);
		return -EALREADY;
	}
	atomic_store(&vm->paused, true);
	pthread_mutex_unlock(&vm->pause_lock);
	/* paused is stored before the kicks; see park() in vcpu.c. */
	for (i = 0; i < vm->nr_vcpus; i++) {
		if (!vm->vcpus[i].running)
			continue;
		started++;
		vcpu_kick(&vm->vcpus[i]);
	}
	/*
	 * Every kicked thread either parks or ends (a stop): the wait is as
	 * long as one exit being handled, like vm_join()'s.
	 */
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->nr_parked + vm->nr_ended < started &&
	       !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->parked_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

int vm_resume(struct vm *vm)
{
	int rc = 0;

	pthread_mutex_lock(&vm->pause_lock);
	if (atomic_load(&vm->stopping))
		rc = -ESRCH;
	else if (!atomic_load(&vm->paused))
		rc = -EALREADY;
	else
		atomic_store(&vm->paused, false);
	pthread_cond_broadcast(&vm->resume_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return rc;
}

bool vm_is_paused(struct vm *vm)
{
	return atomic_load(&vm->paused);
}

int vm_power_button(struct vm *vm)
{
	unsigned int i;

	for (i = 0; vm->devices && i < nr_platform_devices; i++) {
		if (platform_devices[i] == &pm_type && vm->devices[i]) {
			pm_power_button(vm->devices[i]);
			return 0;
		}
	}
	return -ENODEV;
}

uint64_t vm_uptime_ns(struct vm *vm)
{
	return vm->start_ns ? clock_ns() - vm->start_ns : 0;
}

/* Resident set size of this process, from /proc/self/statm; 0 if unknown. */
static uint64_t rss_bytes(void)
{
	unsigned long long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	return n == 2 && page > 0 ? resident * (uint64_t)page : 0;
}

static void disk_stats(void *state, struct vm_stats *out)
{
	struct virtio_blk_stats b;
	const char *name;
	unsigned int j;

	for (j = 0; out->nr_disks < CONFIG_MAX_DISKS &&
		    virtio_blk_get_stats(state, j, &name, &b) == 0;
	     j++) {
		struct vm_disk_stats *d = &out->disks[out->nr_disks++];

		snprintf(d->name, sizeof(d->name), "%s", name);
		d->read_bytes = b.read_bytes;
		d->write_bytes = b.write_bytes;
		d->read_ops = b.read_ops;
		d->write_ops = b.write_ops;
		d->flushes = b.flushes;
	}
}

static void net_stats(void *state, struct vm_stats *out)
{
	struct virtio_net_counters c;
	const char *name;
	unsigned int j;

	for (j = 0; out->nr_nets < CONFIG_MAX_NETS &&
		    virtio_net_get_counters(state, j, &name, &c) == 0;
	     j++) {
		struct vm_net_stats *n = &out->nets[out->nr_nets++];

		snprintf(n->name, sizeof(n->name), "%s", name);
		n->rx_bytes = c.rx_bytes;
		n->tx_bytes = c.tx_bytes;
		n->rx_packets = c.rx_packets;
		n->tx_packets = c.tx_packets;
		n->dropped = c.dropped;
	}
}

void vm_get_stats(struct vm *vm, struct vm_stats *out)
{
	unsigned int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < vm->nr_vcpus && i < CONFIG_MAX_CPUS; i++)
		vcpu_get_stats(&vm->vcpus[i], &out->vcpus[out->nr_vcpus++]);
	out->rss_bytes = rss_bytes();
	for (i = 0; vm->devices && i < nr_platform_devices; i++) {
		if (!vm->devices[i])
			continue;
		if (platform_devices[i] == &virtio_blk_type)
			disk_stats(vm->devices[i], out);
		else if (platform_devices[i] == &virtio_net_type)
			net_stats(vm->devices[i], out);
	}
}
