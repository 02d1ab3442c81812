/* SPDX-License-Identifier: MIT */
/*
 * MC146818 CMOS real-time clock at ports 0x70/0x71, IRQ 8. See rtc.c.
 */
#ifndef MICA_DEVICES_RTC_H
#define MICA_DEVICES_RTC_H

#include <stdint.h>

#include "devices/device.h"

#define RTC_NR_PORTS 2 /* index, data */
#define RTC_CMOS_SIZE 128
#define RTC_REG_CENTURY 0x32 /* named by the FADT's CENTURY field */

/* Nanoseconds since the Unix epoch; the default reads CLOCK_REALTIME. */
typedef int64_t (*rtc_clock_fn)(void *opaque);

/*
 * Replace the time source of a realized RTC (a test hook). The guest's
 * clock keeps its offset from the time source. now_ns is called with the
 * device lock held, from vCPU threads and the device's timer thread.
 */
void rtc_set_clock(void *state, rtc_clock_fn now_ns, void *opaque);

extern const struct device_type rtc_type;

#endif
