// SPDX-License-Identifier: MIT
/*
 * Guest "smp": bringing up application processors. Tests that
 *  - the ACPI tables are where the VMM says (RSDP from the start info, or
 *    found by scanning 0xe0000..0xfffff), have valid checksums, and that
 *    the MADT lists the expected number of enabled local APICs;
 *  - INIT-SIPI-SIPI sent by the BSP's LAPIC to all-excluding-self starts
 *    every AP in real mode at the SIPI page (a trampoline at 0x8000);
 *  - each AP runs (protected mode, own stack), reports its APIC ID from
 *    CPUID leaf 1 ("cpu N up", printed under a spinlock), counts itself in
 *    with an atomic increment, then parks with cli; hlt.
 * The BSP takes the CPU count from "cpus=N" on the command line, or else
 * from the MADT; it waits for the APs with HLT on a periodic LAPIC timer,
 * bounded to about 20 s, checks that APIC IDs 1..N-1 all reported, prints
 * "all N cpus up" and exits 0.
 */
#include "lib/guest.h"

#define TRAMP_BASE 0x8000u /* SIPI vector 0x08 */
#define WAIT_TICKS 2000 /* of 10 ms */

extern const u8 tramp_start[], tramp_end[];
static volatile u32 print_lock;
static volatile u32 aps_up;
static volatile u32 ids_seen; /* bit per APIC ID, IDs below 32 */

static void lock(void)
{
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		while (print_lock)
			cpu_relax();
}

static void unlock(void)
{
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

static u32 apic_id_cpuid(void)
{
	u32 a, b, c, d;

	cpuid(1, &a, &b, &c, &d);
	return b >> 24;
}

void ap_main(void);
void ap_main(void)
{
	u32 id = apic_id_cpuid();

	lock();
	printf("cpu %u up\n", id);
	if (id < 32)
		__atomic_fetch_or(&ids_seen, 1u << id, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&aps_up, 1, __ATOMIC_SEQ_CST);
	unlock();
	for (;;)
		__asm__ volatile("cli; hlt");
}

static int checksum_ok(const u8 *p, u32 len)
{
	u8 sum = 0;

	for (u32 i = 0; i < len; i++)
		sum = (u8)(sum + p[i]);
	return sum == 0;
}

static const u8 *find_rsdp(const struct hvm_start_info *si)
{
	if (si->rsdp_paddr && !(si->rsdp_paddr >> 32))
		return (const u8 *)(uptr)si->rsdp_paddr;
	for (uptr a = 0xe0000; a < 0x100000; a += 16) {
		if (!strncmp((const char *)a, "RSD PTR ", 8))
			return (const u8 *)a;
	}
	return NULL;
}

static u32 rd32(const u8 *p)
{
	return p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

/* Enabled local APICs in the MADT, or -1 if the tables are unusable. */
static int madt_cpus(const struct hvm_start_info *si)
{
	const u8 *rsdp = find_rsdp(si);
	const u8 *rsdt, *madt = NULL;
	int n = 0;

	if (!rsdp) {
		printf("smp: no RSDP\n");
		return -1;
	}
	printf("smp: RSDP at %p, revision %u\n", rsdp, rsdp[15]);
	check(checksum_ok(rsdp, 20), "RSDP checksum");
	rsdt = (const u8 *)(uptr)rd32(rsdp + 16);
	int xsdt = 0;
	if (!rsdt && rsdp[15] >= 2) {
		/* Only an XSDT: take the low half, paging is off anyway. */
		rsdt = (const u8 *)(uptr)rd32(rsdp + 24);
		xsdt = 1;
	}
	if (!rsdt || strncmp((const char *)rsdt, xsdt ? "XSDT" : "RSDT", 4)) {
		printf("smp: no RSDT/XSDT\n");
		return -1;
	}
	u32 len = rd32(rsdt + 4);
	check(len >= 36 && len < 4096 && checksum_ok(rsdt, len),
	      "RSDT/XSDT length and checksum");
	for (u32 off = 36; off + (xsdt ? 8 : 4) <= len && off < 4096;
	     off += xsdt ? 8 : 4) {
		const u8 *t = (const u8 *)(uptr)rd32(rsdt + off);
		if (t && !strncmp((const char *)t, "APIC", 4))
			madt = t;
	}
	if (!madt) {
		printf("smp: no MADT\n");
		return -1;
	}
	len = rd32(madt + 4);
	check(len >= 44 && len < 4096 && checksum_ok(madt, len),
	      "MADT length and checksum");
	printf("smp: MADT at %p, LAPIC address %x\n", madt, rd32(madt + 36));
	for (u32 off = 44; off + 2 <= len && off < 4096;) {
		u8 type = madt[off], elen = madt[off + 1];
		if (elen < 2)
			break;
		if (type == 0 && elen >= 8 && (rd32(madt + off + 4) & 1))
			n++;
		else if (type == 9 && elen >= 16 && (rd32(madt + off + 8) & 1))
			n++;
		off += elen;
	}
	return n;
}

static void send_ipi(u32 icr)
{
	lapic_write(LAPIC_ICR_HI, 0);
	lapic_write(LAPIC_ICR_LO, icr);
	for (int i = 0; i < 1000 && (lapic_read(LAPIC_ICR_LO) & (1u << 12));
	     i++)
		cpu_relax();
}

int main(struct hvm_start_info *si)
{
	const char *cmdline = pvh_cmdline(si);
	char buf[8];
	int from_cmdline = -1, from_madt;
	u32 n;

	guest_name = "smp";
	if (cmdline_get(cmdline, "cpus", buf, sizeof(buf)))
		from_cmdline = (int)parse_u32(buf);
	from_madt = madt_cpus(si);
	printf("smp: cpus from cmdline %d, from MADT %d\n", from_cmdline,
	       from_madt);
	if (from_cmdline > 0 && from_madt >= 0)
		check(from_cmdline == from_madt,
		      "MADT CPU count matches cpus=");
	n = (u32)(from_cmdline > 0 ? from_cmdline : from_madt);
	if (n < 1 || n > SMP_MAX_APS + 1 || n > 32)
		fail("cannot test with %d cpus", (int)n);

	pic_disable();
	lapic_enable();
	printf("smp: BSP APIC id %u, starting APs, trampoline at %x\n",
	       apic_id_cpuid(), TRAMP_BASE);
	memcpy((void *)TRAMP_BASE, tramp_start,
	       (uptr)(tramp_end - tramp_start));

	send_ipi(0x000c4500); /* INIT, level assert, all excluding self */
	sleep_us(10000);
	for (int i = 0; i < 2; i++) {
		send_ipi(0x000c4600 | (TRAMP_BASE >> 12)); /* STARTUP */
		sleep_us(200);
	}

	u32 start = timer_ticks;
	timer_periodic(10000);
	while (aps_up < n - 1 && timer_ticks - start < WAIT_TICKS) {
		sti_hlt();
		cli();
	}
	timer_stop();
	lock();
	if (aps_up != n - 1)
		fail("timeout: %u of %u APs up after %u ms", aps_up, n - 1,
		     (timer_ticks - start) * 10);
	u32 want = ((n >= 32) ? 0xffffffffu : ((1u << n) - 1)) & ~1u;
	check(ids_seen == want, "APs reported APIC IDs 1..N-1");
	printf("all %u cpus up\n", n);
	finish();
}
