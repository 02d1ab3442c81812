// SPDX-License-Identifier: MIT
/*
 * Guest "poweroff": ACPI soft-off. Tests that writing SLP_TYP=5 | SLP_EN
 * as 16 bits to PM1a_CNT (port 0x604) ends the VM with status 0, and that
 * the line printed just before reaches the VMM's stdout (the console must
 * not drop output written before the power-off). If the VM survives the
 * write, the guest fails through debug-exit status 1. ("slp_typ=N" on the
 * command line overrides the sleep type, for other machines' \_S5.)
 */
#include "lib/guest.h"

int main(struct hvm_start_info *si)
{
	char buf[4];
	u32 slp_typ = 5; /* mica's \_S5; "slp_typ=0" for QEMU's PIIX4 */

	guest_name = "poweroff";
	if (cmdline_get(pvh_cmdline(si), "slp_typ", buf, sizeof(buf)))
		slp_typ = parse_u32(buf) & 7;
	printf("poweroff: last line before S5\n");
	outw(PORT_PM1A_CNT, (u16)(slp_typ << 10 | 1 << 13));
	for (int i = 0; i < 1000; i++)
		cpu_relax();
	fail("still running after writing S5 to PM1a_CNT");
}
