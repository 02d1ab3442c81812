// SPDX-License-Identifier: MIT
/*
 * Console, formatting, string helpers and the exit path shared by the tiny
 * guests (see guest.h). The console is COM1 polled: each byte waits, with a
 * bound, for LSR.THRE, so a console that never drains cannot hang a guest.
 */
#include "guest.h"

const char *guest_name = "guest";
static int nfail;

void putc(char c)
{
	for (int i = 0; i < 10000; i++) {
		if (inb(COM1 + UART_LSR) & LSR_THRE)
			break;
	}
	outb(COM1 + UART_THR, (u8)c);
}

void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

static void put_uhex(u64 v, int width)
{
	char buf[16];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v && n < 16);
	while (n < width && n < 16)
		buf[n++] = '0';
	while (n)
		putc(buf[--n]);
}

static void put_udec(u32 v)
{
	char buf[10];
	int n = 0;

	do {
		buf[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		putc(buf[--n]);
}

/*
 * A printf subset: %s %c %d %u %x %lx %llx %p %%, with an optional zero-pad
 * width for hex ("%08x"). Decimal is 32-bit only (no libgcc division).
 */
static void vprintf(const char *fmt, __builtin_va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			if (*fmt == '\n')
				putc('\r');
			putc(*fmt);
			continue;
		}
		fmt++;
		int width = 0;
		int lng = 0;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = __builtin_va_arg(ap, const char *);
			puts(s ? s : "(null)");
			break;
		}
		case 'c':
			putc((char)__builtin_va_arg(ap, int));
			break;
		case 'd': {
			int v = __builtin_va_arg(ap, int);
			if (v < 0) {
				putc('-');
				put_udec(0u - (u32)v);
			} else {
				put_udec((u32)v);
			}
			break;
		}
		case 'u':
			put_udec(__builtin_va_arg(ap, u32));
			break;
		case 'x':
			if (lng >= 2)
				put_uhex(__builtin_va_arg(ap, u64), width);
			else if (lng == 1)
				put_uhex(__builtin_va_arg(ap, unsigned long),
					 width);
			else
				put_uhex(__builtin_va_arg(ap, u32), width);
			break;
		case 'p':
			puts("0x");
			put_uhex((uptr) __builtin_va_arg(ap, void *), 0);
			break;
		case '%':
			putc('%');
			break;
		default:
			putc('%');
			putc(*fmt);
			if (!*fmt)
				return;
		}
	}
}

void printf(const char *fmt, ...)
{
	__builtin_va_list ap;

	__builtin_va_start(ap, fmt);
	vprintf(fmt, ap);
	__builtin_va_end(ap);
}

void guest_exit(u8 status)
{
	outb(PORT_DEBUG_EXIT, status);
	/* Still here: no debug-exit device (mica run without --debug-exit). */
	puts("debug-exit did not stop the VM; halting\r\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}

void pass(void)
{
	printf("%s: PASS\n", guest_name);
	guest_exit(EXIT_PASS);
}

void fail(const char *fmt, ...)
{
	__builtin_va_list ap;

	printf("%s: FAIL: ", guest_name);
	__builtin_va_start(ap, fmt);
	vprintf(fmt, ap);
	__builtin_va_end(ap);
	putc('\r');
	putc('\n');
	guest_exit(EXIT_FAIL);
}

void check(int ok, const char *what)
{
	printf("  %s: %s\n", ok ? "ok" : "FAILED", what);
	if (!ok)
		nfail++;
}

int failures(void)
{
	return nfail;
}

void finish(void)
{
	if (nfail)
		fail("%d check(s) failed", nfail);
	pass();
}

uptr strlen(const char *s)
{
	uptr n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, uptr n)
{
	for (uptr i = 0; i < n; i++) {
		if (a[i] != b[i] || !a[i])
			return (u8)a[i] - (u8)b[i];
	}
	return 0;
}

void *memcpy(void *d, const void *s, uptr n)
{
	u8 *dp = d;
	const u8 *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memset(void *d, int c, uptr n)
{
	u8 *dp = d;

	while (n--)
		*dp++ = (u8)c;
	return d;
}

/* Find word at a word boundary of cmdline; returns what follows it. */
static const char *cmdline_find(const char *cmdline, const char *word)
{
	uptr wl = strlen(word);
	const char *p = cmdline;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, word, wl) &&
		    (p[wl] == '\0' || p[wl] == ' ' || p[wl] == '='))
			return p + wl;
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

int cmdline_has(const char *cmdline, const char *word)
{
	return cmdline_find(cmdline, word) != NULL;
}

int cmdline_get(const char *cmdline, const char *key, char *buf, uptr len)
{
	const char *p = cmdline_find(cmdline, key);
	uptr n = 0;

	if (!p || *p != '=' || !len)
		return 0;
	p++;
	while (p[n] && p[n] != ' ' && n + 1 < len) {
		buf[n] = p[n];
		n++;
	}
	buf[n] = '\0';
	return 1;
}

u32 parse_u32(const char *s)
{
	u32 v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (u32)(*s++ - '0');
	return v;
}

#ifndef __x86_64__
const char *pvh_cmdline(const struct hvm_start_info *si)
{
	/* Paging is off: a physical address below 4 GiB is a pointer. */
	if (!si || !si->cmdline_paddr || si->cmdline_paddr >> 32)
		return "";
	return (const char *)(uptr)si->cmdline_paddr;
}
#endif
