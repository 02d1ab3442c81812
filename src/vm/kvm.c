// SPDX-License-Identifier: MIT
/*
 * KVM ioctls (Documentation/virt/kvm/api.rst). Nothing here is
 * guest-controlled; the kvm_run page that KVM_RUN fills is read by vcpu.c.
 */
#include "vm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

const char *kvm_device_path(void)
{
	const char *path = getenv("MICA_KVM_DEVICE");

	return path && *path ? path : "/dev/kvm";
}

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
};

static int xioctl(int fd, unsigned long req, const void *arg)
{
	int r;

	do {
		r = ioctl(fd, req, arg);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

int kvm_open(struct kvm *kvm, const char **what)
{
	const char *path = kvm_device_path();
	unsigned int i;
	int r;

	kvm->sys_fd = kvm->vm_fd = -1;
	*what = path;
	kvm->sys_fd = open(path, O_RDWR | O_CLOEXEC);
	if (kvm->sys_fd < 0)
		return -errno;
	r = xioctl(kvm->sys_fd, KVM_GET_API_VERSION, NULL);
	if (r != KVM_API_VERSION) {
		*what = "KVM API version 12";
		r = r < 0 ? r : -ENOTSUP;
		goto fail;
	}
	for (i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (xioctl(kvm->sys_fd, KVM_CHECK_EXTENSION,
			   (void *)(long)required_caps[i].cap) <= 0) {
			*what = required_caps[i].name;
			r = -ENOTSUP;
			goto fail;
		}
	}
	r = xioctl(kvm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (r <= 0) {
		*what = "KVM_GET_VCPU_MMAP_SIZE";
		r = r < 0 ? r : -EINVAL;
		goto fail;
	}
	kvm->vcpu_mmap_size = r;
	r = xioctl(kvm->sys_fd, KVM_CREATE_VM, NULL);
	if (r < 0) {
		*what = "KVM_CREATE_VM";
		goto fail;
	}
	kvm->vm_fd = r;
	return 0;
fail:
	close(kvm->sys_fd);
	kvm->sys_fd = -1;
	return r;
}

void kvm_close(struct kvm *kvm)
{
	if (kvm->vm_fd >= 0)
		close(kvm->vm_fd);
	if (kvm->sys_fd >= 0)
		close(kvm->sys_fd);
	kvm->vm_fd = kvm->sys_fd = -1;
}

int kvm_set_memory_region(struct kvm *kvm, uint32_t slot, gpa_t gpa,
			  uint64_t size, void *host)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	return xioctl(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
}

int kvm_create_platform(struct kvm *kvm, gpa_t tss, gpa_t identity_map)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = identity_map;
	int r;

	r = xioctl(kvm->vm_fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)tss);
	if (r < 0)
		return r;
	r = xioctl(kvm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	if (r < 0)
		return r;
	r = xioctl(kvm->vm_fd, KVM_CREATE_IRQCHIP, NULL);
	if (r < 0)
		return r;
	return xioctl(kvm->vm_fd, KVM_CREATE_PIT2, &pit);
}

int kvm_irq_line(struct kvm *kvm, unsigned int gsi, bool level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	return xioctl(kvm->vm_fd, KVM_IRQ_LINE, &irq);
}

int kvm_gsi_count(struct kvm *kvm)
{
	return xioctl(kvm->vm_fd, KVM_CHECK_EXTENSION,
		      (void *)(long)KVM_CAP_IRQ_ROUTING);
}

int kvm_set_gsi_routing(struct kvm *kvm,
			const struct kvm_irq_routing_entry *entries,
			unsigned int nr)
{
	struct kvm_irq_routing *table;
	int r;

	table = calloc(1, sizeof(*table) + nr * sizeof(*entries));
	if (!table)
		return -ENOMEM;
	table->nr = nr;
	if (nr)
		memcpy(table->entries, entries, nr * sizeof(*entries));
	r = xioctl(kvm->vm_fd, KVM_SET_GSI_ROUTING, table);
	free(table);
	return r < 0 ? r : 0;
}

int kvm_irqfd(struct kvm *kvm, int fd, unsigned int gsi, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)fd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};
	int r = xioctl(kvm->vm_fd, KVM_IRQFD, &irqfd);

	return r < 0 ? r : 0;
}

int kvm_ioeventfd(struct kvm *kvm, bool mmio, uint64_t addr, unsigned int len,
		  int fd, bool assign)
{
	struct kvm_ioeventfd ioev = {
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = (mmio ? 0 : KVM_IOEVENTFD_FLAG_PIO) |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};
	int r = xioctl(kvm->vm_fd, KVM_IOEVENTFD, &ioev);

	return r < 0 ? r : 0;
}

int kvm_get_supported_cpuid(struct kvm *kvm, struct kvm_cpuid2 **out)
{
	unsigned int nent = 64;

	*out = NULL;
	for (;;) {
		struct kvm_cpuid2 *c =
			calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		int r;

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		r = xioctl(kvm->sys_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (r == 0) {
			*out = c;
			return 0;
		}
		free(c);
		/* E2BIG: the array was too small; grow it, within reason. */
		if (r != -E2BIG || nent >= 4096)
			return r;
		nent *= 2;
	}
}

int kvm_create_vcpu(struct kvm *kvm, unsigned int id,
		    struct kvm_vcpu_handle *vcpu)
{
	void *run;
	int fd;

	vcpu->fd = -1;
	vcpu->run = NULL;
	fd = xioctl(kvm->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id);
	if (fd < 0)
		return fd;
	run = mmap(NULL, (size_t)kvm->vcpu_mmap_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	if (run == MAP_FAILED) {
		int r = -errno;

		close(fd);
		return r;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	vcpu->fd = fd;
	vcpu->run = run;
	vcpu->run_size = kvm->vcpu_mmap_size;
	return 0;
}

void kvm_destroy_vcpu(struct kvm_vcpu_handle *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

int kvm_vcpu_set_cpuid(struct kvm_vcpu_handle *vcpu,
		       const struct kvm_cpuid2 *cpuid)
{
	return xioctl(vcpu->fd, KVM_SET_CPUID2, cpuid);
}

int kvm_vcpu_get_regs(struct kvm_vcpu_handle *vcpu, struct kvm_regs *regs)
{
	return xioctl(vcpu->fd, KVM_GET_REGS, regs);
}

int kvm_vcpu_set_regs(struct kvm_vcpu_handle *vcpu, const struct kvm_regs *regs)
{
	return xioctl(vcpu->fd, KVM_SET_REGS, regs);
}

int kvm_vcpu_get_sregs(struct kvm_vcpu_handle *vcpu, struct kvm_sregs *sregs)
{
	return xioctl(vcpu->fd, KVM_GET_SREGS, sregs);
}

int kvm_vcpu_set_sregs(struct kvm_vcpu_handle *vcpu,
		       const struct kvm_sregs *sregs)
{
	return xioctl(vcpu->fd, KVM_SET_SREGS, sregs);
}

int kvm_vcpu_set_fpu(struct kvm_vcpu_handle *vcpu, const struct kvm_fpu *fpu)
{
	return xioctl(vcpu->fd, KVM_SET_FPU, fpu);
}

int kvm_vcpu_set_msrs(struct kvm_vcpu_handle *vcpu,
		      const struct kvm_msr_entry *entries, unsigned int nr)
{
	struct kvm_msrs *msrs;
	int r;

	msrs = calloc(1, sizeof(*msrs) + nr * sizeof(*entries));
	if (!msrs)
		return -ENOMEM;
	msrs->nmsrs = nr;
	memcpy(msrs->entries, entries, nr * sizeof(*entries));
	r = xioctl(vcpu->fd, KVM_SET_MSRS, msrs);
	free(msrs);
	if (r >= 0 && (unsigned int)r != nr)
		return -EINVAL;
	return r < 0 ? r : 0;
}

int kvm_vcpu_get_lapic(struct kvm_vcpu_handle *vcpu,
		       struct kvm_lapic_state *lapic)
{
	return xioctl(vcpu->fd, KVM_GET_LAPIC, lapic);
}

int kvm_vcpu_set_lapic(struct kvm_vcpu_handle *vcpu,
		       const struct kvm_lapic_state *lapic)
{
	return xioctl(vcpu->fd, KVM_SET_LAPIC, lapic);
}

int kvm_vcpu_kvmclock_ctrl(struct kvm_vcpu_handle *vcpu)
{
	return xioctl(vcpu->fd, KVM_KVMCLOCK_CTRL, NULL);
}

int kvm_vcpu_run(struct kvm_vcpu_handle *vcpu)
{
	/* Not retried on EINTR: a signal is how a vCPU is kicked. */
	return ioctl(vcpu->fd, KVM_RUN, NULL) < 0 ? -errno : 0;
}
