// SPDX-License-Identifier: MIT
/*
 * Guest "hlt_irq": HLT and interrupt delivery with the in-kernel irqchip.
 * Tests that
 *  - a one-shot LAPIC timer interrupt (vector 0x40, divide by 16) wakes a
 *    vCPU from HLT and reaches the IDT handler, which EOIs; five rounds
 *    with growing counts;
 *  - the one-shot timer does not reload (current count 0 after it fired);
 *  - an interrupt that fires while IF=0 stays pending (its IRR bit set, the
 *    handler not run) and is delivered after STI. Hardware and QEMU take
 *    it after the instruction following STI; this host's /dev/kvm, which
 *    emulates CPL0 code, takes it tens to hundreds of instructions later,
 *    so the guest allows up to 100000 loop iterations and prints the
 *    number;
 *  - the periodic mode keeps ticking across several HLTs.
 * Each wait is bounded in HLTs; exits 0 on success.
 */
#include "lib/guest.h"

static void wait_tick(u32 before, const char *what)
{
	u32 halts = 0;

	while (timer_ticks == before) {
		sti_hlt();
		cli();
		if (++halts > 10000)
			fail("%s: no timer interrupt after %u HLT wake-ups",
			     what, halts);
	}
}

int main(struct hvm_start_info *si)
{
	(void)si;
	guest_name = "hlt_irq";
	pic_disable();
	lapic_enable();
	printf("hlt_irq: LAPIC id %x, version %x\n", lapic_read(LAPIC_ID) >> 24,
	       lapic_read(0x30));

	for (u32 round = 1; round <= 5; round++) {
		u32 before = timer_ticks;

		timer_oneshot(round * 1000);
		wait_tick(before, "one-shot");
		printf("hlt_irq: round %u: woke from HLT, ticks %u\n", round,
		       timer_ticks);
		if (timer_ticks != before + 1)
			fail("round %u: %u interrupts for one one-shot", round,
			     timer_ticks - before);
	}
	check(1, "five one-shot timer interrupts woke HLT");
	check(lapic_read(LAPIC_TIMER_CUR) == 0,
	      "one-shot timer does not reload");

	/* Masked by IF=0: the interrupt must wait for STI. */
	u32 before = timer_ticks;
	u32 polls = 0;
	timer_oneshot(500);
	while (lapic_read(LAPIC_TIMER_CUR) != 0 && polls < 200000)
		polls++;
	check(polls < 200000, "timer count reached 0 while polling");
	/* KVM raises the IRR bit from a host timer, a little later. */
	for (polls = 0; polls < 200000; polls++)
		if (lapic_read(LAPIC_IRR + (TIMER_VECTOR / 32) * 0x10) &
		    (1u << (TIMER_VECTOR % 32)))
			break;
	check(polls < 200000, "timer interrupt pending in the IRR");
	check(timer_ticks == before, "no interrupt delivered while IF=0");
	u32 spins = 0;
	__asm__ volatile("sti" ::: "memory");
	while (timer_ticks == before && spins < 100000)
		spins++;
	cli();
	printf("hlt_irq: pending interrupt taken %u loop iterations after STI\n",
	       spins);
	check(timer_ticks == before + 1,
	      "pending interrupt delivered after STI");

	before = timer_ticks;
	timer_periodic(1000);
	for (int i = 0; i < 3; i++)
		wait_tick(timer_ticks, "periodic");
	timer_stop();
	check(timer_ticks >= before + 3, "periodic timer ticked 3 times");
	printf("hlt_irq: %u timer interrupts in all\n", timer_ticks);
	finish();
}
