// SPDX-License-Identifier: MIT
/*
 * Interrupt plumbing of the 32-bit test guests: an IDT of 256 interrupt
 * gates to the stubs in pvh32.S, a dispatcher that turns any unexpected
 * exception into a printed report and debug-exit status 0x7f, and minimal
 * drivers for the local APIC (timer, EOI), the IOAPIC (one redirection
 * entry) and the 8259 pair (remapped and masked, so that only the APICs
 * deliver).
 */
#include "guest.h"

struct idt_gate {
	u16 off_lo;
	u16 sel;
	u8 zero;
	u8 type;
	u16 off_hi;
} __attribute__((packed));

extern const u8 isr_stubs[];
static struct idt_gate idt[256] __attribute__((aligned(8)));
static irq_handler handlers[256];
volatile u32 timer_ticks;
static volatile u32 oneshot_fired;

#define PIC_VECTOR_BASE 0x50 /* spurious 8259 vectors land in 0x50..0x5f */

void idt_install(void)
{
	struct {
		u16 limit;
		u32 base;
	} __attribute__((packed)) desc = { sizeof(idt) - 1, (u32)(uptr)idt };

	for (u32 i = 0; i < 256; i++) {
		u32 off = (u32)(uptr)isr_stubs + i * 16;
		idt[i].off_lo = (u16)off;
		idt[i].sel = 0x10;
		idt[i].zero = 0;
		idt[i].type = 0x8e; /* present, DPL 0, 32-bit interrupt gate */
		idt[i].off_hi = (u16)(off >> 16);
	}
	__asm__ volatile("lidt %0" : : "m"(desc));
}

void irq_set_handler(u8 vector, irq_handler h)
{
	handlers[vector] = h;
}

void irq_dispatch(struct irq_frame *f);
void irq_dispatch(struct irq_frame *f)
{
	u8 v = (u8)f->vector;

	if (handlers[v]) {
		handlers[v](f);
		return;
	}
	if (v == 0xff) /* LAPIC spurious: no EOI */
		return;
	if (v >= PIC_VECTOR_BASE && v < PIC_VECTOR_BASE + 16)
		return; /* a spurious 8259 interrupt: masked lines */
	printf("%s: FAIL: unexpected %s %u, error %x, at eip %x\n", guest_name,
	       v < 32 ? "exception" : "interrupt", v, f->error, f->eip);
	guest_exit(EXIT_EXCEPTION);
}

void lapic_enable(void)
{
	lapic_write(LAPIC_SVR, 0x100 | 0xff);
	/* Only the IOAPIC path: mask LINT0 (ExtINT from the 8259 on the BSP). */
	lapic_write(LAPIC_LVT_LINT0, 1u << 16);
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

static void timer_irq(struct irq_frame *f)
{
	(void)f;
	timer_ticks++;
	oneshot_fired = 1;
	lapic_eoi();
}

static void timer_start(u32 us, int periodic)
{
	irq_set_handler(TIMER_VECTOR, timer_irq);
	lapic_write(LAPIC_TIMER_DIV, 0x3); /* divide by 16 */
	lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR | (periodic ? 1u << 17 : 0));
	lapic_write(LAPIC_TIMER_INIT, us * TIMER_COUNTS_PER_US);
}

void timer_periodic(u32 us)
{
	timer_start(us, 1);
}

void timer_oneshot(u32 us)
{
	oneshot_fired = 0;
	timer_start(us, 0);
}

void timer_stop(void)
{
	lapic_write(LAPIC_TIMER_INIT, 0);
	lapic_write(LAPIC_LVT_TIMER, 1u << 16);
}

void sleep_us(u32 us)
{
	timer_oneshot(us);
	while (!oneshot_fired) {
		sti_hlt();
		cli();
	}
}

static void ioapic_write(u32 reg, u32 v)
{
	mmio_w32(IOAPIC_BASE, reg);
	mmio_w32(IOAPIC_BASE + 0x10, v);
}

void ioapic_route(u32 gsi, u8 vector, u8 dest_apic, int level)
{
	/* Fixed delivery, physical destination, active high. */
	ioapic_write(0x11 + 2 * gsi, (u32)dest_apic << 24);
	ioapic_write(0x10 + 2 * gsi, vector | (level ? 1u << 15 : 0));
}

void pic_disable(void)
{
	outb(0x20, 0x11); /* ICW1: init, ICW4 follows */
	outb(0xa0, 0x11);
	outb(0x21, PIC_VECTOR_BASE); /* ICW2: vector base */
	outb(0xa1, PIC_VECTOR_BASE + 8);
	outb(0x21, 0x04); /* ICW3: slave on IRQ2 */
	outb(0xa1, 0x02);
	outb(0x21, 0x01); /* ICW4: 8086 mode */
	outb(0xa1, 0x01);
	outb(0x21, 0xff); /* mask everything */
	outb(0xa1, 0xff);
}
