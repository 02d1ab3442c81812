// SPDX-License-Identifier: MIT
/*
 * vCPU threads. Each runs KVM_RUN in a loop and dispatches exits:
 * port I/O and MMIO to the buses, triple faults and emulation failures to a
 * crash stop with a register dump, system events to power-off or reset.
 * A kick (vcpu_kick) makes KVM_RUN return -EINTR; the thread then ends if
 * the VM is stopping, or parks while it is paused (park(), vm_pause()).
 * The exit counters of the control API are counted here, by this thread.
 *
 * Guest-controlled: the contents of every exit (ports, addresses, sizes,
 * data). They reach devices only through the bus, which checks ranges; the
 * I/O data buffer is checked against the kvm_run mapping.
 */
#include "vm/vcpu.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/x86_64/cpuid.h"
#include "util/log.h"
#include "vm/vm.h"

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define MISC_ENABLE_FAST_STRING 0x1
#define MTRR_ENABLE_WB 0x806 /* MTRRs on, default type write-back */

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI 0x400
#define APIC_MODE_EXTINT 0x700

static void kick_handler(int sig)
{
	(void)sig;
}

int vcpu_install_kick_handler(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) ? -errno : 0;
}

static int setup_cpuid(struct vcpu *vcpu)
{
	const struct kvm_cpuid2 *sup = vcpu->vm->supported_cpuid;
	struct kvm_cpuid2 *c;
	int rc;

	c = calloc(1, sizeof(*c) + (sup->nent + CPUID_EXTRA_ENTRIES) *
					   sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	rc = cpuid_build(sup, vcpu->id, vcpu->vm->cfg->cpus, c);
	if (!rc)
		rc = kvm_vcpu_set_cpuid(&vcpu->kvm, c);
	free(c);
	return rc;
}

static void setup_msrs(struct vcpu *vcpu)
{
	static const struct kvm_msr_entry msrs[] = {
		{ .index = MSR_IA32_SYSENTER_CS },
		{ .index = MSR_IA32_SYSENTER_ESP },
		{ .index = MSR_IA32_SYSENTER_EIP },
		{ .index = MSR_STAR },
		{ .index = MSR_LSTAR },
		{ .index = MSR_CSTAR },
		{ .index = MSR_SYSCALL_MASK },
		{ .index = MSR_KERNEL_GS_BASE },
		{ .index = MSR_IA32_MISC_ENABLE,
		  .data = MISC_ENABLE_FAST_STRING },
		{ .index = MSR_MTRR_DEF_TYPE, .data = MTRR_ENABLE_WB },
	};
	unsigned int i;

	/*
	 * One at a time: a host that does not virtualize one of these (the
	 * syscall MSRs are zero after reset anyway) should not stop the boot.
	 */
	for (i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++)
		if (kvm_vcpu_set_msrs(&vcpu->kvm, &msrs[i], 1))
			log_debug("vCPU %u: MSR 0x%x not settable", vcpu->id,
				  msrs[i].index);
}

static void lapic_set_reg(struct kvm_lapic_state *lapic, unsigned int off,
			  uint32_t value)
{
	memcpy(&lapic->regs[off], &value, sizeof(value));
}

static int setup_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	int rc = kvm_vcpu_get_lapic(&vcpu->kvm, &lapic);

	if (rc)
		return rc;
	/* Virtual wire: the 8259 through LINT0, NMIs through LINT1. */
	lapic_set_reg(&lapic, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	lapic_set_reg(&lapic, APIC_LVT_LINT1, APIC_MODE_NMI);
	return kvm_vcpu_set_lapic(&vcpu->kvm, &lapic);
}

int vcpu_init(struct vcpu *vcpu, struct vm *vm, unsigned int id)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	int rc;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	rc = kvm_create_vcpu(&vm->kvm, id, &vcpu->kvm);
	if (rc)
		return rc;
	rc = setup_cpuid(vcpu);
	if (!rc)
		rc = kvm_vcpu_set_fpu(&vcpu->kvm, &fpu);
	if (!rc)
		rc = setup_lapic(vcpu);
	if (rc) {
		kvm_destroy_vcpu(&vcpu->kvm);
		return rc;
	}
	setup_msrs(vcpu);
	return 0;
}

int vcpu_set_boot_state(struct vcpu *vcpu, const struct boot_entry *entry)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int rc;

	rc = kvm_vcpu_get_sregs(&vcpu->kvm, &sregs);
	if (rc)
		return rc;
	boot_setup_sregs(&sregs, entry->mode);
	rc = kvm_vcpu_set_sregs(&vcpu->kvm, &sregs);
	if (rc)
		return rc;
	boot_setup_regs(&regs, entry);
	return kvm_vcpu_set_regs(&vcpu->kvm, &regs);
}

static void print_segment(const char *name, const struct kvm_segment *s)
{
	fprintf(stderr,
		"  %-3s sel=%04x base=%016llx limit=%08x type=%x l=%u db=%u\n",
		name, s->selector, (unsigned long long)s->base, s->limit,
		s->type, s->l, s->db);
}

/* The register dump printed when a guest crashes. */
static void dump_state(struct vcpu *vcpu, const char *why)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	fprintf(stderr, "mica: guest crashed on vCPU %u: %s\n", vcpu->id, why);
	if (kvm_vcpu_get_regs(&vcpu->kvm, &r) ||
	    kvm_vcpu_get_sregs(&vcpu->kvm, &s)) {
		fprintf(stderr, "  (registers unavailable)\n");
		return;
	}
	fprintf(stderr,
		"  RIP=%016llx RSP=%016llx RFLAGS=%016llx\n"
		"  RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
		"  RSI=%016llx RDI=%016llx RBP=%016llx\n"
		"  R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
		"  R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n"
		"  CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx\n"
		"  EFER=%016llx APIC_BASE=%016llx\n",
		r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi,
		r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14,
		r.r15, s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.apic_base);
	print_segment("CS", &s.cs);
	print_segment("SS", &s.ss);
	print_segment("DS", &s.ds);
	fprintf(stderr,
		"  GDT base=%016llx limit=%04x IDT base=%016llx limit=%04x\n",
		(unsigned long long)s.gdt.base, s.gdt.limit,
		(unsigned long long)s.idt.base, s.idt.limit);
}

/* One writer, this vCPU's thread: a relaxed load and store suffice. */
static void count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static void crash(struct vcpu *vcpu, const char *why)
{
	dump_state(vcpu, why);
	vm_request_stop(vcpu->vm, VM_STOP_CRASH, 0);
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->kvm.run;
	unsigned int size = run->io.size, count = run->io.count, i;
	uint64_t len = (uint64_t)size * count;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	if (run->io.data_offset > (uint64_t)vcpu->kvm.run_size ||
	    len > (uint64_t)vcpu->kvm.run_size - run->io.data_offset) {
		log_guest("port I/O exit with a bad data buffer");
		return;
	}
	for (i = 0; i < count; i++, data += size) {
		uint64_t v = 0;

		if (run->io.direction == KVM_EXIT_IO_OUT) {
			memcpy(&v, data, size);
			if (!bus_write(&vcpu->vm->pio, run->io.port, size, v))
				log_debug(
					"unclaimed port write 0x%x/%u = 0x%llx",
					run->io.port, size,
					(unsigned long long)v);
		} else {
			if (!bus_read(&vcpu->vm->pio, run->io.port, size, &v))
				log_debug("unclaimed port read 0x%x/%u",
					  run->io.port, size);
			memcpy(data, &v, size);
		}
	}
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->kvm.run;
	unsigned int len = run->mmio.len;
	uint64_t v = 0;

	if (len == 0 || len > sizeof(run->mmio.data)) {
		log_guest("MMIO exit of %u bytes at 0x%llx", len,
			  (unsigned long long)run->mmio.phys_addr);
		return;
	}
	if (run->mmio.is_write) {
		memcpy(&v, run->mmio.data, len);
		if (!bus_write(&vcpu->vm->mmio, run->mmio.phys_addr, len, v))
			log_debug("unclaimed MMIO write 0x%llx/%u",
				  (unsigned long long)run->mmio.phys_addr, len);
	} else {
		if (!bus_read(&vcpu->vm->mmio, run->mmio.phys_addr, len, &v))
			log_debug("unclaimed MMIO read 0x%llx/%u",
				  (unsigned long long)run->mmio.phys_addr, len);
		memcpy(run->mmio.data, &v, len);
	}
}

/* Returns false when this vCPU must stop running. */
static bool handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->kvm.run;
	char why[160];

	count(&vcpu->nr_exits);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		count(&vcpu->nr_io_exits);
		handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		count(&vcpu->nr_mmio_exits);
		handle_mmio(vcpu);
		return true;
	case KVM_EXIT_HLT: /* not with an in-kernel LAPIC; harmless */
		count(&vcpu->nr_hlt_exits);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return true;
	case KVM_EXIT_SHUTDOWN:
		crash(vcpu, "triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why),
			 "KVM internal error, suberror %u%s (ndata %u, data[0] "
			 "0x%llx)",
			 run->internal.suberror,
			 run->internal.suberror ==
					 KVM_INTERNAL_ERROR_EMULATION ?
				 " (instruction emulation failed)" :
				 "",
			 run->internal.ndata,
			 run->internal.ndata ?
				 (unsigned long long)run->internal.data[0] :
				 0ull);
		crash(vcpu, why);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why),
			 "VM entry failed, hardware reason 0x%llx",
			 (unsigned long long)
				 run->fail_entry.hardware_entry_failure_reason);
		crash(vcpu, why);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_stop(vcpu->vm, VM_STOP_POWEROFF, 0);
			return false;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_stop(vcpu->vm, VM_STOP_RESET, 0);
			return false;
		default:
			crash(vcpu, "KVM system event: crash");
			return false;
		}
	default:
		snprintf(why, sizeof(why), "unexpected KVM exit reason %u",
			 run->exit_reason);
		crash(vcpu, why);
		return false;
	}
}

/*
 * Kicked out of KVM_RUN: wait here while the VM is paused (vm_pause()).
 *
 * The kick's immediate_exit is cleared first, then paused (here) and
 * stopping (by the caller's loop) are read; vm_pause() and vm_join() store
 * their flag first, then kick. So either this thread sees the flag, or the
 * kick lands after the clear and the next KVM_RUN returns at once.
 */
static void park(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	bool parked = false;
	int rc;

	__atomic_store_n(&vcpu->kvm.run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&vm->pause_lock);
	while (atomic_load(&vm->paused) && !atomic_load(&vm->stopping)) {
		if (!parked) {
			parked = true;
			vm->nr_parked++;
			pthread_cond_broadcast(&vm->parked_cond);
		}
		pthread_cond_wait(&vm->resume_cond, &vm->pause_lock);
	}
	if (parked)
		vm->nr_parked--;
	pthread_mutex_unlock(&vm->pause_lock);
	if (!parked || atomic_load(&vm->stopping))
		return;
	/*
	 * Tell a guest with kvmclock that it was stopped, so its watchdogs
	 * do not report the pause as a soft lockup. -EINVAL: the guest has
	 * not enabled kvmclock on this vCPU.
	 */
	rc = kvm_vcpu_kvmclock_ctrl(&vcpu->kvm);
	if (rc && rc != -EINVAL)
		log_debug("vCPU %u: KVM_KVMCLOCK_CTRL: %s", vcpu->id,
			  strerror(-rc));
}

static void thread_end(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
		atomic_store(&vcpu->cpu_ns_at_end,
			     (uint64_t)ts.tv_sec * 1000000000ull +
				     (uint64_t)ts.tv_nsec);
	atomic_store(&vcpu->ended, true);
	pthread_mutex_lock(&vm->pause_lock);
	vm->nr_ended++;
	pthread_cond_broadcast(&vm->parked_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);

	while (!atomic_load(&vcpu->vm->stopping)) {
		int rc = kvm_vcpu_run(&vcpu->kvm);

		if (rc == -EINTR || rc == -EAGAIN) {
			park(vcpu);
			continue;
		}
		if (rc) {
			log_err("vCPU %u: KVM_RUN failed: %s", vcpu->id,
				strerror(-rc));
			vm_request_stop(vcpu->vm, VM_STOP_HOST_ERROR, 0);
			break;
		}
		if (!handle_exit(vcpu))
			break;
	}
	thread_end(vcpu);
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	const struct vm_config *cfg = vcpu->vm->cfg;
	pthread_attr_t attr;
	char name[16];
	int rc;

	pthread_attr_init(&attr);
	if (cfg->nr_vcpu_affinity) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cfg->vcpu_affinity[vcpu->id % cfg->nr_vcpu_affinity],
			&set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	rc = pthread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);
	pthread_attr_destroy(&attr);
	if (rc)
		return -rc;
	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(vcpu->thread, name);
	vcpu->running = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->running)
		return;
	/* Seen by KVM_RUN if the signal lands before the thread enters it. */
	__atomic_store_n(&vcpu->kvm.run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_get_stats(struct vcpu *vcpu, struct vcpu_stats *out)
{
	struct timespec ts;
	clockid_t cid;

	*out = (struct vcpu_stats){
		.exits = atomic_load_explicit(&vcpu->nr_exits,
					      memory_order_relaxed),
		.io_exits = atomic_load_explicit(&vcpu->nr_io_exits,
						 memory_order_relaxed),
		.mmio_exits = atomic_load_explicit(&vcpu->nr_mmio_exits,
						   memory_order_relaxed),
		.hlt_exits = atomic_load_explicit(&vcpu->nr_hlt_exits,
						  memory_order_relaxed),
	};
	/* A thread that ended (or ends meanwhile) has no CPU clock. */
	if (vcpu->running && !atomic_load(&vcpu->ended) &&
	    pthread_getcpuclockid(vcpu->thread, &cid) == 0 &&
	    clock_gettime(cid, &ts) == 0) {
		out->cpu_ns = (uint64_t)ts.tv_sec * 1000000000ull +
			      (uint64_t)ts.tv_nsec;
		return;
	}
	out->cpu_ns = atomic_load(&vcpu->cpu_ns_at_end);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (!vcpu->running)
		return;
	pthread_join(vcpu->thread, NULL);
	vcpu->running = false;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	kvm_destroy_vcpu(&vcpu->kvm);
}
