// SPDX-License-Identifier: MIT
/*
 * Guest "counter": a guest whose progress can be watched from outside, for
 * the control API tests (tests/guest/run.sh, "control API" section).
 * Prints "counter N" every period microseconds (LAPIC one-shot timer and
 * HLT, so a paused guest simply stops counting), and between lines:
 *  - echoes each byte received on COM1 as "counter: got 'C'" (console
 *    input through the console socket);
 *  - polls PWRBTN_STS with PWRBTN_EN set (no SCI handler: the PIC is off
 *    and the IOAPIC pin is not routed): a press of the ACPI power button
 *    prints "counter: power button" and powers off through S5, as an ACPI
 *    guest's shutdown would.
 * Command line: "period=US" (default 20000), "lines=N" (default 0: count
 * until stopped) ends it with debug-exit status 0 after N lines.
 */
#include "lib/guest.h"

#define PM1_STS 0x600
#define PM1_EN 0x602
#define PWRBTN 0x0100
#define SLP_S5 (5 << 10 | 1 << 13)

int main(struct hvm_start_info *si)
{
	const char *cmdline = pvh_cmdline(si);
	u32 period = 20000, lines = 0, n;
	char buf[12];

	guest_name = "counter";
	if (cmdline_get(cmdline, "period", buf, sizeof(buf)))
		period = parse_u32(buf);
	if (cmdline_get(cmdline, "lines", buf, sizeof(buf)))
		lines = parse_u32(buf);
	pic_disable();
	lapic_enable();
	outw(PM1_STS, PWRBTN); /* write 1 to clear */
	outw(PM1_EN, PWRBTN);
	for (n = 0; !lines || n < lines; n++) {
		printf("counter %u\n", n);
		while (inb(COM1 + UART_LSR) & LSR_DR) {
			u8 c = inb(COM1 + UART_RBR);

			printf("counter: got '%c'\n",
			       c >= 0x20 && c < 0x7f ? c : '?');
		}
		if (inw(PM1_STS) & PWRBTN) {
			printf("counter: power button\n");
			outw(PM1_STS, PWRBTN);
			outw(PORT_PM1A_CNT, SLP_S5);
			fail("still running after S5");
		}
		sleep_us(period);
	}
	finish();
}
