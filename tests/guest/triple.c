// SPDX-License-Identifier: MIT
/*
 * Guest "triple": a triple fault. Loads an IDT of limit 0 and raises an
 * exception: it cannot be delivered (#GP), nor can the #GP (#DF), so the
 * CPU shuts down. The VMM must exit with status 3 and print a register
 * dump on stderr. The exception is raised by a divide by zero by default,
 * an instruction every x86 emulator implements (this host's KVM emulates
 * CPL0 code; an instruction it cannot emulate would be an internal error,
 * a different path to the same status); "fault=ud2" or "fault=gp" (a load
 * of a bad selector) pick another.
 */
#include "lib/guest.h"

int main(struct hvm_start_info *si)
{
	const char *cmdline = pvh_cmdline(si);
	struct {
		u16 limit;
		u32 base;
	} __attribute__((packed)) empty = { 0, 0 };
	char how[8];

	guest_name = "triple";
	if (!cmdline_get(cmdline, "fault", how, sizeof(how)))
		how[0] = '\0';
	printf("triple: loading an empty IDT and faulting (%s)\n",
	       how[0] ? how : "de");
	__asm__ volatile("lidt %0" : : "m"(empty));
	if (!strncmp(how, "ud2", 4)) {
		__asm__ volatile("ud2");
	} else if (!strncmp(how, "gp", 3)) {
		__asm__ volatile("mov %0, %%ds" : : "r"(0x1234) : "memory");
	} else {
		u32 zero = 0;
		__asm__ volatile("divl %1" : : "a"(1), "r"(zero), "d"(0));
	}
	fail("still running after the fault");
}
