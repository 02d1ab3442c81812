// SPDX-License-Identifier: MIT
/*
 * ACPI fixed hardware, after the ACPI specification (6.5) chapter 4.8
 * "ACPI Hardware Features": the PM1a event block (PM1_STS at +0, PM1_EN at
 * +2), the PM1a control block (PM1_CNT at +4) and the power management
 * timer (PM_TMR at +8) in one port range at PORT_PM_BASE, as the FADT
 * describes them, and the SCI on IRQ_SCI.
 *
 *  - PM1_STS: write 1 to clear. TMR_STS (bit 0) is set when bit 23 of the
 *    timer changes, PWRBTN_STS (bit 8) by pm_power_button(); WAK_STS
 *    (bit 15) and the other status bits are only ever cleared, since mica
 *    has no sleep states to wake from.
 *  - PM1_EN: TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN, PCIEXP_WAKE_DIS.
 *  - PM1_CNT: SCI_EN reads 1 always: the machine is always in ACPI mode
 *    (there is no SMI path, and the FADT has no SMI_CMD); SLP_EN with SLP_TYP == 5 (the
 *    DSDT's \_S5) asks the VM to power off, other sleep types are ignored
 *    with a rate-limited log. SLP_EN and GBL_RLS read 0.
 *  - PM_TMR: a 24-bit counter at 3.579545 MHz from CLOCK_MONOTONIC, read
 *    only. It runs from boot of the host clock, not from VM start; ACPI
 *    only promises a free-running counter.
 *  - The SCI is a level interrupt, high while PM1_STS & PM1_EN has an
 *    event bit set. TMR_STS is computed when the block is accessed, so with
 *    TMR_EN set its SCI is raised late (Linux never sets TMR_EN).
 *
 * Guest-controlled: every access, at any width 1/2/4/8 and any offset inside
 * the block (a wider access is split into bytes, so a 2-byte read of
 * PM1_STS and two 1-byte reads agree, and a write that spans registers
 * writes each). Writes to PM_TMR and to the reserved bytes +6/+7 are
 * ignored; those bytes read 0.
 *
 * Locking: p->lock covers the registers; taken by vCPUs and by
 * pm_power_button() (the toolstack's thread). irq_set() is called under it
 * (the irqchip never calls back); vm_ctl_request() after dropping it.
 */
#include "devices/pm.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "util/log.h"

#define OFF_STS 0
#define OFF_EN 2
#define OFF_CNT 4
#define OFF_TMR 8

#define STS_TMR 0x0001
#define STS_GBL 0x0020
#define STS_PWRBTN 0x0100
#define STS_SLPBTN 0x0200
#define STS_RTC 0x0400
#define STS_WAK 0x8000
#define STS_EVENTS (STS_TMR | STS_GBL | STS_PWRBTN | STS_SLPBTN | STS_RTC)

#define EN_MASK 0x4721 /* TMR, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE_DIS */

#define CNT_SCI_EN 0x0001
#define CNT_BM_RLD 0x0002
#define CNT_SLP_TYP_SHIFT 10
#define CNT_SLP_TYP 0x1c00
#define CNT_SLP_EN 0x2000
#define CNT_STORED (CNT_BM_RLD | CNT_SLP_TYP)

#define TMR_MASK 0xffffffu

#define NSEC_PER_SEC 1000000000ull

struct pm {
	pthread_mutex_t lock;
	bool lock_ok;
	struct irq_line sci;
	bool sci_level;
	struct vm_ctl ctl;
	pm_clock_fn clock;
	void *clock_opaque;

	uint16_t sts, en, cnt;
	uint64_t last_ticks;
};

static uint64_t monotonic_ns(void *opaque)
{
	(void)opaque;
	return clock_ns();
}

static uint64_t now_ticks(const struct pm *p)
{
	uint64_t ns = p->clock(p->clock_opaque);

	return ns / NSEC_PER_SEC * PM_TIMER_HZ +
	       ns % NSEC_PER_SEC * PM_TIMER_HZ / NSEC_PER_SEC;
}

static void update_sci(struct pm *p)
{
	bool level = p->sts & p->en & STS_EVENTS;

	if (level != p->sci_level) {
		p->sci_level = level;
		irq_set(&p->sci, level);
	}
}

/* TMR_STS: the timer's bit 23 changed since the last look. */
static void timer_catch_up(struct pm *p, uint64_t ticks)
{
	if (ticks >> 23 != p->last_ticks >> 23)
		p->sts |= STS_TMR;
	p->last_ticks = ticks;
}

static uint8_t read_byte(const struct pm *p, uint64_t off, uint64_t ticks)
{
	uint16_t cnt = (uint16_t)((p->cnt & CNT_STORED) | CNT_SCI_EN);

	switch (off) {
	case OFF_STS:
	case OFF_STS + 1:
		return (uint8_t)(p->sts >> (8 * (off - OFF_STS)));
	case OFF_EN:
	case OFF_EN + 1:
		return (uint8_t)(p->en >> (8 * (off - OFF_EN)));
	case OFF_CNT:
	case OFF_CNT + 1:
		return (uint8_t)(cnt >> (8 * (off - OFF_CNT)));
	case OFF_TMR:
	case OFF_TMR + 1:
	case OFF_TMR + 2:
	case OFF_TMR + 3:
		return (uint8_t)((ticks & TMR_MASK) >> (8 * (off - OFF_TMR)));
	default:
		return 0;
	}
}

static uint16_t set_byte(uint16_t reg, unsigned int which, uint8_t b)
{
	unsigned int shift = 8 * which;

	return (uint16_t)((reg & ~(0xffu << shift)) |
			  ((unsigned int)b << shift));
}

/* Returns true if the guest asked for S5. */
static bool write_byte(struct pm *p, uint64_t off, uint8_t b)
{
	uint16_t cnt;
	unsigned int typ;

	switch (off) {
	case OFF_STS:
	case OFF_STS + 1:
		/* Write 1 to clear. */
		p->sts = set_byte(p->sts, (unsigned int)(off - OFF_STS),
				  (uint8_t)(read_byte(p, off, 0) & ~b));
		return false;
	case OFF_EN:
	case OFF_EN + 1:
		p->en = set_byte(p->en, (unsigned int)(off - OFF_EN), b) &
			EN_MASK;
		return false;
	case OFF_CNT:
	case OFF_CNT + 1:
		cnt = set_byte(p->cnt, (unsigned int)(off - OFF_CNT), b);
		p->cnt = cnt & CNT_STORED;
		if (!(cnt & CNT_SLP_EN))
			return false;
		typ = (cnt & CNT_SLP_TYP) >> CNT_SLP_TYP_SHIFT;
		if (typ == PM_SLP_TYP_S5)
			return true;
		log_guest("pm: sleep type %u requested; only S5 (%u) is "
			  "supported, ignored",
			  typ, PM_SLP_TYP_S5);
		return false;
	default:
		return false; /* PM_TMR is read-only; +6/+7 reserved */
	}
}

static uint64_t pm_pio_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct pm *p = opaque;
	uint64_t ticks, v = 0;
	unsigned int i;

	pthread_mutex_lock(&p->lock);
	ticks = now_ticks(p);
	timer_catch_up(p, ticks);
	for (i = 0; i < size && i < 8; i++)
		v |= (uint64_t)read_byte(p, offset + i, ticks) << (8 * i);
	update_sci(p);
	pthread_mutex_unlock(&p->lock);
	return v;
}

static void pm_pio_write(void *opaque, uint64_t offset, unsigned int size,
			 uint64_t value)
{
	struct pm *p = opaque;
	bool poweroff = false;
	unsigned int i;

	pthread_mutex_lock(&p->lock);
	timer_catch_up(p, now_ticks(p));
	for (i = 0; i < size && i < 8; i++)
		if (write_byte(p, offset + i, (uint8_t)(value >> (8 * i))))
			poweroff = true;
	update_sci(p);
	pthread_mutex_unlock(&p->lock);
	if (poweroff)
		vm_ctl_request(&p->ctl, VM_REQ_POWEROFF, 0);
}

static const struct bus_ops pm_pio_ops = {
	.read = pm_pio_read,
	.write = pm_pio_write,
};

static int pm_realize(void *state, const struct device_host *host)
{
	struct pm *p = state;
	int rc;

	memset(p, 0, sizeof(*p));
	p->sci = device_irq(host, IRQ_SCI);
	p->ctl = host->ctl;
	p->clock = monotonic_ns;
	p->last_ticks = now_ticks(p);
	rc = pthread_mutex_init(&p->lock, NULL);
	if (rc)
		return -rc;
	p->lock_ok = true;
	irq_set(&p->sci, false);
	rc = bus_register(host->pio, PORT_PM_BASE, PORT_PM_LEN, &pm_pio_ops, p,
			  "pm");
	if (rc) {
		pthread_mutex_destroy(&p->lock);
		p->lock_ok = false;
		return rc;
	}
	return 0;
}

static void pm_unrealize(void *state)
{
	struct pm *p = state;

	if (p->lock_ok) {
		pthread_mutex_destroy(&p->lock);
		p->lock_ok = false;
	}
}

void pm_power_button(void *state)
{
	struct pm *p = state;

	pthread_mutex_lock(&p->lock);
	p->sts |= STS_PWRBTN;
	update_sci(p);
	pthread_mutex_unlock(&p->lock);
}

void pm_set_clock(void *state, pm_clock_fn now_ns, void *opaque)
{
	struct pm *p = state;

	pthread_mutex_lock(&p->lock);
	p->clock = now_ns ? now_ns : monotonic_ns;
	p->clock_opaque = opaque;
	p->last_ticks = now_ticks(p);
	pthread_mutex_unlock(&p->lock);
}

const struct device_type pm_type = {
	.name = "pm",
	.state_size = sizeof(struct pm),
	.realize = pm_realize,
	.unrealize = pm_unrealize,
};
