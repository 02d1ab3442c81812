// SPDX-License-Identifier: MIT
/*
 * An MC146818A CMOS real-time clock at ports 0x70 (index; bit 7, the PC's
 * NMI mask, is ignored) and 0x71 (data), IRQ 8, after the Motorola
 * MC146818A datasheet and its DS12887 successor:
 *  - time and date registers 0-9 plus the century byte at 0x32, in BCD or
 *    binary (register B DM) and 12- or 24-hour format (register B 24/12);
 *  - register A: UIP reads 1 during the last 244 us before each second
 *    boundary (the registers change exactly at the boundary, so a guest
 *    that waits for UIP == 0 has at least 244 us to read them), the divider
 *    bits are stored but the clock always runs, RS selects the periodic rate;
 *  - register B: SET holds the registers for writing (setting it clears
 *    UIE, as on the DS12887), PIE/AIE/UIE enable the interrupts;
 *  - register C: IRQF, PF, AF, UF, cleared by reading; register D: VRT;
 *  - the rest of the 128 bytes is CMOS RAM, with SeaBIOS's memory-size
 *    bytes filled in at realize.
 *
 * The clock is the host's CLOCK_REALTIME (UTC) plus a whole-second offset
 * the guest sets by writing the time, normally with SET held; releasing
 * SET makes the written time current. Keeping whole seconds keeps the
 * guest's second boundaries where the host's are, as a running divider
 * would. Writing a time register with SET clear takes effect at once.
 * A written time must be a valid date between 1970 and 9999; anything
 * else is logged and the clock keeps its previous time. Day of week is
 * derived from the date, not stored.
 *
 * Guest-controlled: the index, every register write (including nonsense
 * BCD, invalid dates and modes flipped while SET is held), access widths
 * (a 2-byte access is split into index then data, as on ISA), how often it
 * reads register C.
 *
 * Interrupts and the timer thread. Flags are computed by catching up from
 * the last observed time to now, on every register access and in a timer
 * thread that realize starts and unrealize stops (joins). The thread sleeps
 * on a condition variable (CLOCK_MONOTONIC) until the next second boundary
 * if UIE or AIE is set, or the next periodic tick if PIE is set and RS is
 * non-zero; with no interrupt enabled, or with IRQF already up (the guest
 * has not read C yet), it sleeps until a register write or a read of C
 * wakes it. It never spins. IRQ 8 is high while IRQF is set. Alarm and
 * update flags are not raised while SET is held.
 *
 * Locking: r->lock covers all state and is taken by vCPUs and the timer
 * thread; irq_set() is called under it (the irqchip never calls back).
 */
#include "devices/rtc.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "config/config.h"
#include "util/log.h"

#define REG_SEC 0x00
#define REG_SEC_ALARM 0x01
#define REG_MIN 0x02
#define REG_MIN_ALARM 0x03
#define REG_HOUR 0x04
#define REG_HOUR_ALARM 0x05
#define REG_WDAY 0x06
#define REG_MDAY 0x07
#define REG_MONTH 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d

#define A_UIP 0x80
#define A_RS 0x0f
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40 /* same bit positions as the enables in B */
#define C_AF 0x20
#define C_UF 0x10
#define C_FLAGS 0x70
#define D_VRT 0x80

#define HOUR_PM 0x80
#define ALARM_DONT_CARE 0xc0

#define NSEC_PER_SEC 1000000000ll
#define UIP_NS 244000ll
#define RTC_HZ 32768
#define SECS_PER_DAY 86400
/* 9999-12-31 23:59:59 UTC: the last second four year digits can show. */
#define MAX_GUEST_SEC 253402300799ll

struct gtime {
	int64_t sec;
	uint32_t nsec;
};

struct rtc {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool lock_ok, cond_ok, thread_ok, stop;
	struct irq_line irq;
	bool irq_level;
	rtc_clock_fn clock;
	void *clock_opaque;

	uint8_t cmos[RTC_CMOS_SIZE];
	uint8_t index;
	int64_t offset; /* guest seconds minus host seconds */
	struct gtime last; /* guest time flags were last caught up to */
};

static int64_t host_realtime_ns(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static struct gtime guest_now(const struct rtc *r)
{
	int64_t ns = r->clock(r->clock_opaque);
	int64_t sec = ns / NSEC_PER_SEC, rem = ns % NSEC_PER_SEC;

	if (rem < 0) {
		rem += NSEC_PER_SEC;
		sec--;
	}
	return (struct gtime){ .sec = sec + r->offset, .nsec = (uint32_t)rem };
}

static bool binary_mode(const struct rtc *r)
{
	return r->cmos[REG_B] & B_DM_BINARY;
}

static uint8_t to_reg(const struct rtc *r, unsigned int v)
{
	if (binary_mode(r))
		return (uint8_t)v;
	return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

static unsigned int from_reg(const struct rtc *r, uint8_t b)
{
	if (binary_mode(r))
		return b;
	return (b >> 4) * 10u + (b & 0x0fu);
}

static uint8_t hour_to_reg(const struct rtc *r, unsigned int hour)
{
	unsigned int h12 = hour % 12 ? hour % 12 : 12;

	if (r->cmos[REG_B] & B_24H)
		return to_reg(r, hour);
	return (uint8_t)(to_reg(r, h12) | (hour >= 12 ? HOUR_PM : 0));
}

/* Returns 0-23, or 24 for a value no clock could show. */
static unsigned int hour_from_reg(const struct rtc *r, uint8_t b)
{
	unsigned int h;

	if (r->cmos[REG_B] & B_24H) {
		h = from_reg(r, b);
		return h < 24 ? h : 24;
	}
	h = from_reg(r, b & (uint8_t)~HOUR_PM);
	if (h < 1 || h > 12)
		return 24;
	return (h % 12) + (b & HOUR_PM ? 12 : 0);
}

static bool is_time_reg(unsigned int idx)
{
	switch (idx) {
	case REG_SEC:
	case REG_MIN:
	case REG_HOUR:
	case REG_WDAY:
	case REG_MDAY:
	case REG_MONTH:
	case REG_YEAR:
	case RTC_REG_CENTURY:
		return true;
	default:
		return false;
	}
}

/* The value time register idx shows at guest second sec. */
static uint8_t time_field(const struct rtc *r, unsigned int idx, int64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	unsigned int year;

	if (!gmtime_r(&t, &tm))
		return 0;
	year = (unsigned int)tm.tm_year + 1900;
	switch (idx) {
	case REG_SEC:
		return to_reg(r, (unsigned int)tm.tm_sec);
	case REG_MIN:
		return to_reg(r, (unsigned int)tm.tm_min);
	case REG_HOUR:
		return hour_to_reg(r, (unsigned int)tm.tm_hour);
	case REG_WDAY:
		return to_reg(r, (unsigned int)tm.tm_wday + 1);
	case REG_MDAY:
		return to_reg(r, (unsigned int)tm.tm_mday);
	case REG_MONTH:
		return to_reg(r, (unsigned int)tm.tm_mon + 1);
	case REG_YEAR:
		return to_reg(r, year % 100);
	case RTC_REG_CENTURY:
		return to_reg(r, year / 100);
	default:
		return 0;
	}
}

/* Copy the time at guest second sec into the registers (SET going high). */
static void latch_time(struct rtc *r, int64_t sec)
{
	static const uint8_t regs[] = {
		REG_SEC,  REG_MIN,   REG_HOUR, REG_WDAY,
		REG_MDAY, REG_MONTH, REG_YEAR, RTC_REG_CENTURY,
	};
	unsigned int i;

	for (i = 0; i < sizeof(regs); i++)
		r->cmos[regs[i]] = time_field(r, regs[i], sec);
}

/*
 * Make the time in the registers current: host second host_sec becomes the
 * time they show. Returns 0, or -EINVAL (logged) for an impossible time.
 */
static int commit_time(struct rtc *r, int64_t host_sec)
{
	unsigned int sec = from_reg(r, r->cmos[REG_SEC]);
	unsigned int min = from_reg(r, r->cmos[REG_MIN]);
	unsigned int hour = hour_from_reg(r, r->cmos[REG_HOUR]);
	unsigned int mday = from_reg(r, r->cmos[REG_MDAY]);
	unsigned int mon = from_reg(r, r->cmos[REG_MONTH]);
	unsigned int year = from_reg(r, r->cmos[RTC_REG_CENTURY]) * 100 +
			    from_reg(r, r->cmos[REG_YEAR]);
	struct tm tm = { 0 };
	time_t t;

	if (sec > 59 || min > 59 || hour > 23 || mday < 1 || mday > 31 ||
	    mon < 1 || mon > 12 || year < 1970 || year > 9999) {
		log_guest("rtc: invalid time %04u-%02u-%02u %02u:%02u:%02u "
			  "written; clock not changed",
			  year, mon, mday, hour, min, sec);
		return -EINVAL;
	}
	tm.tm_sec = (int)sec;
	tm.tm_min = (int)min;
	tm.tm_hour = (int)hour;
	tm.tm_mday = (int)mday;
	tm.tm_mon = (int)mon - 1;
	tm.tm_year = (int)year - 1900;
	t = timegm(&tm);
	if (t < 0 || t > MAX_GUEST_SEC) {
		log_guest("rtc: time written out of range; clock not changed");
		return -EINVAL;
	}
	r->offset = (int64_t)t - host_sec;
	return 0;
}

static bool alarm_field_ok(uint8_t alarm, uint8_t now)
{
	return (alarm & ALARM_DONT_CARE) == ALARM_DONT_CARE || alarm == now;
}

static bool alarm_matches(const struct rtc *r, int64_t sec)
{
	int64_t sod = sec % SECS_PER_DAY;

	if (sod < 0)
		sod += SECS_PER_DAY;
	return alarm_field_ok(r->cmos[REG_SEC_ALARM],
			      to_reg(r, (unsigned int)(sod % 60))) &&
	       alarm_field_ok(r->cmos[REG_MIN_ALARM],
			      to_reg(r, (unsigned int)(sod / 60 % 60))) &&
	       alarm_field_ok(r->cmos[REG_HOUR_ALARM],
			      hour_to_reg(r, (unsigned int)(sod / 3600)));
}

/* Did any second in [from, to] match the alarm? A day covers every match. */
static bool alarm_hit(const struct rtc *r, int64_t from, int64_t to)
{
	int64_t s;

	if (to - from >= SECS_PER_DAY)
		from = to - (SECS_PER_DAY - 1);
	for (s = from; s <= to; s++)
		if (alarm_matches(r, s))
			return true;
	return false;
}

/* Periodic interrupt period in 32768 Hz ticks; 0 if off. */
static unsigned int period_ticks(const struct rtc *r)
{
	unsigned int rs = r->cmos[REG_A] & A_RS;

	if (!rs)
		return 0;
	return rs <= 2 ? 1u << (rs + 6) : 1u << (rs - 1);
}

static unsigned int subsec_ticks(uint32_t nsec)
{
	return (unsigned int)((uint64_t)nsec * RTC_HZ / NSEC_PER_SEC);
}

static uint8_t reg_c(const struct rtc *r)
{
	uint8_t c = r->cmos[REG_C] & C_FLAGS;

	if (c & r->cmos[REG_B])
		c |= C_IRQF;
	return c;
}

static void update_irq(struct rtc *r)
{
	bool level = reg_c(r) & C_IRQF;

	if (level != r->irq_level) {
		r->irq_level = level;
		irq_set(&r->irq, level);
	}
}

/* Raise the flags for whatever happened between r->last and now. */
static void catch_up(struct rtc *r, struct gtime now)
{
	struct gtime last = r->last;
	unsigned int period = period_ticks(r);

	r->last = now;
	if (now.sec < last.sec || (now.sec == last.sec && now.nsec < last.nsec))
		goto out; /* the host clock stepped back */
	/* Periods divide a second, so each second boundary is also a tick. */
	if (period &&
	    (now.sec != last.sec || subsec_ticks(now.nsec) / period !=
					    subsec_ticks(last.nsec) / period))
		r->cmos[REG_C] |= C_PF;
	if (!(r->cmos[REG_B] & B_SET) && now.sec != last.sec) {
		r->cmos[REG_C] |= C_UF;
		if (!(r->cmos[REG_C] & C_AF) &&
		    alarm_hit(r, last.sec + 1, now.sec))
			r->cmos[REG_C] |= C_AF;
	}
out:
	update_irq(r);
}

/* Nanoseconds until the timer thread has something to do; -1: nothing. */
static int64_t next_event_ns(const struct rtc *r, struct gtime now)
{
	uint8_t b = r->cmos[REG_B];
	unsigned int period = period_ticks(r);
	int64_t best = -1;

	if (reg_c(r) & C_IRQF)
		return -1; /* the line stays up until C is read */
	if ((b & B_PIE) && period) {
		uint64_t next = (subsec_ticks(now.nsec) / period + 1) * period;
		int64_t at =
			(int64_t)((next * NSEC_PER_SEC + RTC_HZ - 1) / RTC_HZ);

		best = at - now.nsec;
	}
	if ((b & (B_UIE | B_AIE)) && !(b & B_SET)) {
		int64_t d = NSEC_PER_SEC - now.nsec;

		if (best < 0 || d < best)
			best = d;
	}
	return best;
}

static void *rtc_thread(void *arg)
{
	struct rtc *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		struct gtime now = guest_now(r);
		struct timespec ts;
		int64_t delay;

		catch_up(r, now);
		delay = next_event_ns(r, now);
		if (delay < 0) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		delay += ts.tv_nsec;
		ts.tv_sec += (time_t)(delay / NSEC_PER_SEC);
		ts.tv_nsec = (long)(delay % NSEC_PER_SEC);
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static bool uip(const struct rtc *r, struct gtime now)
{
	if (r->cmos[REG_B] & B_SET)
		return false;
	return now.nsec >= NSEC_PER_SEC - UIP_NS;
}

static uint8_t read_reg(struct rtc *r, unsigned int idx)
{
	struct gtime now = guest_now(r);
	uint8_t v;

	catch_up(r, now);
	if (is_time_reg(idx))
		return (r->cmos[REG_B] & B_SET) ? r->cmos[idx] :
						  time_field(r, idx, now.sec);
	switch (idx) {
	case REG_A:
		return (uint8_t)(r->cmos[REG_A] | (uip(r, now) ? A_UIP : 0));
	case REG_C:
		v = reg_c(r);
		r->cmos[REG_C] = 0;
		update_irq(r);
		pthread_cond_signal(&r->cond);
		return v;
	case REG_D:
		return D_VRT;
	default:
		return r->cmos[idx];
	}
}

static void write_b(struct rtc *r, uint8_t v, struct gtime now)
{
	uint8_t old = r->cmos[REG_B];

	if ((v & B_SET) && !(old & B_SET)) {
		latch_time(r, now.sec);
		v &= (uint8_t)~B_UIE;
	}
	r->cmos[REG_B] = v;
	if (!(v & B_SET) && (old & B_SET)) {
		/* Start the new time; no flags for the jump itself. */
		if (!commit_time(r, now.sec - r->offset))
			r->last = guest_now(r);
	}
}

static void write_reg(struct rtc *r, unsigned int idx, uint8_t v)
{
	struct gtime now = guest_now(r);

	catch_up(r, now);
	if (is_time_reg(idx)) {
		if (!(r->cmos[REG_B] & B_SET)) {
			latch_time(r, now.sec);
			r->cmos[idx] = v;
			if (!commit_time(r, now.sec - r->offset))
				r->last = guest_now(r);
		} else {
			r->cmos[idx] = v;
		}
	} else {
		switch (idx) {
		case REG_A:
			r->cmos[REG_A] = v & (uint8_t)~A_UIP;
			break;
		case REG_B:
			write_b(r, v, now);
			break;
		case REG_C:
		case REG_D:
			break; /* read-only */
		default:
			r->cmos[idx] = v;
			break;
		}
	}
	update_irq(r);
	pthread_cond_signal(&r->cond);
}

static uint64_t rtc_pio_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct rtc *r = opaque;
	unsigned int i;
	uint64_t v = 0;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < size && i < 8; i++) {
		uint64_t port = offset + i;
		uint8_t b = 0xff;

		if (port == 0)
			b = r->index;
		else if (port == 1)
			b = read_reg(r, r->index);
		v |= (uint64_t)b << (8 * i);
	}
	pthread_mutex_unlock(&r->lock);
	return v;
}

static void rtc_pio_write(void *opaque, uint64_t offset, unsigned int size,
			  uint64_t value)
{
	struct rtc *r = opaque;
	unsigned int i;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < size && i < 8; i++) {
		uint64_t port = offset + i;
		uint8_t b = (uint8_t)(value >> (8 * i));

		if (port == 0)
			r->index = b & 0x7f; /* bit 7: NMI mask, not ours */
		else if (port == 1)
			write_reg(r, r->index, b);
	}
	pthread_mutex_unlock(&r->lock);
}

static const struct bus_ops rtc_pio_ops = {
	.read = rtc_pio_read,
	.write = rtc_pio_write,
};

/* SeaBIOS's CMOS memory-size bytes; the layout puts RAM above 3 GiB high. */
static void fill_memory_bytes(struct rtc *r, const struct vm_config *cfg)
{
	uint64_t mem = cfg ? cfg->memory : 0;
	uint64_t low = mem < LAYOUT_MMIO_HOLE ? mem : LAYOUT_MMIO_HOLE;
	uint64_t high = mem - low;
	uint64_t ext_kb = 0, above16m = 0, above4g = high >> 16;

	if (!mem)
		return;
	if (low > LAYOUT_HIGH_MEM)
		ext_kb = (low - LAYOUT_HIGH_MEM) >> 10;
	if (low > (16ull << 20))
		above16m = (low - (16ull << 20)) >> 16;
	if (ext_kb > 0xffff)
		ext_kb = 0xffff;
	if (above16m > 0xffff)
		above16m = 0xffff;
	if (above4g > 0xffffff)
		above4g = 0xffffff;
	r->cmos[0x15] = 0x80; /* 640 KiB base memory */
	r->cmos[0x16] = 0x02;
	r->cmos[0x17] = r->cmos[0x30] = (uint8_t)ext_kb;
	r->cmos[0x18] = r->cmos[0x31] = (uint8_t)(ext_kb >> 8);
	r->cmos[0x34] = (uint8_t)above16m;
	r->cmos[0x35] = (uint8_t)(above16m >> 8);
	r->cmos[0x5b] = (uint8_t)above4g;
	r->cmos[0x5c] = (uint8_t)(above4g >> 8);
	r->cmos[0x5d] = (uint8_t)(above4g >> 16);
}

static void rtc_unrealize(void *state);

static int rtc_realize(void *state, const struct device_host *host)
{
	struct rtc *r = state;
	pthread_condattr_t attr;
	int rc;

	memset(r, 0, sizeof(*r));
	r->irq = device_irq(host, IRQ_RTC);
	r->clock = host_realtime_ns;
	r->cmos[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	r->cmos[REG_B] = B_24H;
	fill_memory_bytes(r, host->cfg);
	r->last = guest_now(r);

	rc = pthread_mutex_init(&r->lock, NULL);
	if (rc)
		return -rc;
	r->lock_ok = true;
	rc = pthread_condattr_init(&attr);
	if (rc)
		goto fail;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (!rc)
		rc = pthread_cond_init(&r->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (rc)
		goto fail;
	r->cond_ok = true;
	irq_set(&r->irq, false);
	rc = pthread_create(&r->thread, NULL, rtc_thread, r);
	if (rc)
		goto fail;
	r->thread_ok = true;
	rc = bus_register(host->pio, PORT_RTC, RTC_NR_PORTS, &rtc_pio_ops, r,
			  "rtc");
	if (rc) {
		rtc_unrealize(r);
		return rc;
	}
	return 0;

fail:
	rtc_unrealize(r);
	return -rc;
}

static void rtc_unrealize(void *state)
{
	struct rtc *r = state;

	if (r->thread_ok) {
		pthread_mutex_lock(&r->lock);
		r->stop = true;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		r->thread_ok = false;
	}
	if (r->cond_ok) {
		pthread_cond_destroy(&r->cond);
		r->cond_ok = false;
	}
	if (r->lock_ok) {
		pthread_mutex_destroy(&r->lock);
		r->lock_ok = false;
	}
}

void rtc_set_clock(void *state, rtc_clock_fn now_ns, void *opaque)
{
	struct rtc *r = state;

	pthread_mutex_lock(&r->lock);
	r->clock = now_ns ? now_ns : host_realtime_ns;
	r->clock_opaque = opaque;
	r->last = guest_now(r);
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

const struct device_type rtc_type = {
	.name = "rtc",
	.state_size = sizeof(struct rtc),
	.realize = rtc_realize,
	.unrealize = rtc_unrealize,
};
