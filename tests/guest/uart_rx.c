// SPDX-License-Identifier: MIT
/*
 * Guest "uart_rx": console input, interrupt driven. Tests that bytes the
 * VMM reads from its stdin reach the 16550's receive buffer, that the
 * UART raises IRQ 4 (IER.ERBFI, MCR.OUT2) through the IOAPIC (GSI 4, edge,
 * vector 0x24) and wakes the vCPU from HLT, and that LSR.DR tracks the
 * receive buffer. The guest echoes each byte uppercased until '\n' (the
 * runner feeds "ping\n" and expects "PING"). It fails if data sits in the
 * receive buffer for three 100 ms timer ticks without an interrupt, or if
 * no newline arrives within about 10 s.
 */
#include "lib/guest.h"

#define RX_VECTOR 0x24
#define RING 64

static volatile u8 ring[RING];
static volatile u32 head, tail;
static volatile u32 rx_irqs;

static void drain(void)
{
	for (int i = 0; i < 256 && (inb(COM1 + UART_LSR) & LSR_DR); i++) {
		u8 c = inb(COM1 + UART_RBR);
		if (head - tail < RING)
			ring[head++ % RING] = c;
	}
}

static void rx_irq(struct irq_frame *f)
{
	(void)f;
	rx_irqs++;
	drain();
	lapic_eoi();
}

int main(struct hvm_start_info *si)
{
	u32 nbytes = 0, stuck = 0, last_tick = 0;
	int done = 0;

	(void)si;
	guest_name = "uart_rx";
	pic_disable();
	lapic_enable();
	irq_set_handler(RX_VECTOR, rx_irq);
	ioapic_route(COM1_GSI, RX_VECTOR, (u8)(lapic_read(LAPIC_ID) >> 24), 0);
	outb(COM1 + UART_LCR, 0x03); /* 8N1, DLAB off */
	outb(COM1 + UART_MCR, 0x0b); /* DTR, RTS, OUT2 (IRQ enable) */
	outb(COM1 + UART_IER, 0x01); /* received data available */
	printf("uart_rx: waiting for a line on the console\n");

	timer_periodic(100000);
	while (!done) {
		cli();
		while (tail != head) {
			char c = (char)ring[tail++ % RING];
			nbytes++;
			if (c == '\n') {
				done = 1;
				break;
			}
			if (c >= 'a' && c <= 'z')
				c = (char)(c - 'a' + 'A');
			putc(c);
		}
		if (done)
			break;
		if (timer_ticks != last_tick) {
			last_tick = timer_ticks;
			if (inb(COM1 + UART_LSR) & LSR_DR) {
				if (++stuck >= 3)
					fail("RX data ready for 3 ticks but no interrupt (%u so far)",
					     rx_irqs);
			} else {
				stuck = 0;
			}
			if (timer_ticks > 100)
				fail("no newline within 10 s (%u bytes, %u RX interrupts)",
				     nbytes, rx_irqs);
		}
		sti_hlt();
	}
	timer_stop();
	outb(COM1 + UART_IER, 0);
	printf("\nuart_rx: %u bytes, %u RX interrupts\n", nbytes, rx_irqs);
	check(rx_irqs >= 1, "RX interrupt via IOAPIC GSI 4");
	finish();
}
