// SPDX-License-Identifier: MIT
/*
 * Guest "reset": a guest-initiated reboot. Prints "booting", then resets
 * through the i8042 (0xfe to port 0x64, the default) or, with "reset=cf9"
 * on the command line, through the reset control register (0x06 to port
 * 0xcf9). With --on-reboot exit the VMM exits with status 2; with restart
 * it boots the guest again, so "booting" appears again. If the VM survives
 * the reset write, the guest fails through debug-exit status 1.
 */
#include "lib/guest.h"

int main(struct hvm_start_info *si)
{
	const char *cmdline = pvh_cmdline(si);
	char method[8];

	guest_name = "reset";
	if (!cmdline_get(cmdline, "reset", method, sizeof(method)))
		method[0] = '\0';
	printf("booting\n");
	if (!strncmp(method, "cf9", 4)) {
		printf("reset: writing 0x06 to port 0xcf9\n");
		outb(PORT_RESET, 0x06);
	} else {
		printf("reset: writing 0xfe to port 0x64\n");
		outb(PORT_I8042_CMD, 0xfe);
	}
	for (int i = 0; i < 1000; i++)
		cpu_relax();
	fail("still running after the reset write");
}
