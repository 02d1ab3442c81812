/* SPDX-License-Identifier: MIT */
/*
 * The small runtime shared by mica's tiny test guests: port and MMIO
 * access, a polled 16550 console, a printf subset, the test device's exit
 * port, and (32-bit guests only) an IDT, the local APIC and the IOAPIC.
 *
 * Built twice: -m32 for the PVH guests (32-bit protected mode, paging off)
 * and -m64 for the bzImage guest (long mode, identity map set up by the
 * VMM). Freestanding: no libc, no libgcc, no SSE. Guest code at CPL0 runs
 * one instruction at a time on the test host's /dev/kvm, so everything
 * here is short and every wait is bounded.
 */
#ifndef GUEST_H
#define GUEST_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned long uptr;

#define NULL ((void *)0)
#define NORETURN __attribute__((noreturn))

/* Machine map (see src/arch/x86_64/layout.h). */
#define COM1 0x3f8
#define UART_RBR 0 /* read: receive buffer */
#define UART_THR 0 /* write: transmit holding */
#define UART_IER 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_SCR 7
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define COM1_GSI 4

#define PORT_DEBUG_EXIT 0xf4
#define PORT_PM1A_CNT 0x604
#define PORT_I8042_CMD 0x64
#define PORT_RESET 0xcf9

#define TESTDEV_MMIO 0xfebff000u
#define LAPIC_BASE 0xfee00000u
#define IOAPIC_BASE 0xfec00000u

/* Debug-exit statuses the guests use. */
#define EXIT_PASS 0
#define EXIT_FAIL 1
#define EXIT_EXCEPTION 0x7f /* an unexpected CPU exception */

static inline void outb(u16 port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(u16 port, u16 v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(u16 port, u32 v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u16 inw(u16 port)
{
	u16 v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u32 inl(u16 port)
{
	u32 v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* MMIO: volatile accesses of exactly the width asked for. */
static inline void mmio_w8(uptr a, u8 v)
{
	*(volatile u8 *)a = v;
}
static inline void mmio_w16(uptr a, u16 v)
{
	*(volatile u16 *)a = v;
}
static inline void mmio_w32(uptr a, u32 v)
{
	*(volatile u32 *)a = v;
}
static inline u8 mmio_r8(uptr a)
{
	return *(volatile u8 *)a;
}
static inline u16 mmio_r16(uptr a)
{
	return *(volatile u16 *)a;
}
static inline u32 mmio_r32(uptr a)
{
	return *(volatile u32 *)a;
}
#ifdef __x86_64__
static inline void mmio_w64(uptr a, u64 v)
{
	__asm__ volatile("movq %1, %0" : "=m"(*(volatile u64 *)a) : "r"(v));
}
static inline u64 mmio_r64(uptr a)
{
	u64 v;
	__asm__ volatile("movq %1, %0" : "=r"(v) : "m"(*(volatile u64 *)a));
	return v;
}
#endif

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}
static inline void cli(void)
{
	__asm__ volatile("cli" ::: "memory");
}
/* sti;hlt back to back: the interrupt shadow of sti makes this race-free. */
static inline void sti_hlt(void)
{
	__asm__ volatile("sti; hlt" ::: "memory");
}
static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ volatile("cpuid"
			 : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
			 : "a"(leaf), "c"(0));
}

/* lib.c */
void putc(char c);
void puts(const char *s); /* no newline added */
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
NORETURN void guest_exit(u8 status);
NORETURN void pass(void);
NORETURN void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void check(int ok, const char *what);
int failures(void);
void finish(void) NORETURN;
uptr strlen(const char *s);
int strncmp(const char *a, const char *b, uptr n);
void *memcpy(void *d, const void *s, uptr n);
void *memset(void *d, int c, uptr n);
/* Value of "key=..." in a command line, copied into buf; 0 if absent. */
int cmdline_get(const char *cmdline, const char *key, char *buf, uptr len);
/* True if the bare word or "word=..." appears in the command line. */
int cmdline_has(const char *cmdline, const char *word);
u32 parse_u32(const char *s);
extern const char *guest_name; /* prefix of fail() lines */

#ifndef __x86_64__
/* Entry of every PVH guest: called by pvh32.S with EBX's start info. */
struct hvm_start_info {
	u32 magic; /* 0x336ec578 */
	u32 version;
	u32 flags;
	u32 nr_modules;
	u64 modlist_paddr;
	u64 cmdline_paddr;
	u64 rsdp_paddr;
	u64 memmap_paddr; /* version >= 1 */
	u32 memmap_entries;
	u32 reserved;
};
struct hvm_memmap_entry {
	u64 addr;
	u64 size;
	u32 type;
	u32 reserved;
};
#define HVM_START_MAGIC 0x336ec578u

int main(struct hvm_start_info *si);
/* The cmdline from the start info, or "" (never NULL). */
const char *pvh_cmdline(const struct hvm_start_info *si);

/* irq32.c: an IDT whose every vector reaches irq_dispatch(). */
struct irq_frame {
	u32 vector, error, eip, cs, eflags;
};
typedef void (*irq_handler)(struct irq_frame *f);
void idt_install(void); /* called by pvh32.S before main() */
void irq_set_handler(u8 vector, irq_handler h);

#define LAPIC_ID 0x020
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_IRR 0x200 /* eight registers, 0x10 apart */
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

static inline u32 lapic_read(u32 reg)
{
	return mmio_r32(LAPIC_BASE + reg);
}
static inline void lapic_write(u32 reg, u32 v)
{
	mmio_w32(LAPIC_BASE + reg, v);
}
/* Software-enable the LAPIC with spurious vector 0xff. */
void lapic_enable(void);
void lapic_eoi(void);
/*
 * The timer counts the APIC bus clock (1 GHz under KVM and QEMU) divided
 * by 16. Periodic ticks go to vector TIMER_VECTOR and bump timer_ticks.
 */
#define TIMER_VECTOR 0x40
#define TIMER_COUNTS_PER_US 62u
extern volatile u32 timer_ticks;
void timer_periodic(u32 us);
void timer_oneshot(u32 us);
void timer_stop(void);
/* Sleep with HLT on a one-shot timer (the periodic timer is stopped). */
void sleep_us(u32 us);
void ioapic_route(u32 gsi, u8 vector, u8 dest_apic, int level);
void pic_disable(void);
#endif

#endif
