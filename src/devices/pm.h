/* SPDX-License-Identifier: MIT */
/*
 * ACPI fixed-hardware registers (PM1a event and control blocks, PM timer)
 * at PORT_PM_BASE, and the SCI. See pm.c.
 */
#ifndef MICA_DEVICES_PM_H
#define MICA_DEVICES_PM_H

#include <stdint.h>

#include "devices/device.h"

#define PM_TIMER_HZ 3579545 /* ACPI PM timer frequency */
#define PM_SLP_TYP_S5 5 /* must match the DSDT's \_S5 package */

/* Nanoseconds of a monotonic clock; the default is clock_ns(). */
typedef uint64_t (*pm_clock_fn)(void *opaque);

/*
 * Press the power button: sets PWRBTN_STS and raises the SCI if the guest
 * enabled PWRBTN_EN. The guest's ACPI driver then shuts down and writes
 * S5 to PM1a_CNT. state is the pm device's state (the VM's allocation for
 * pm_type), realized and not yet unrealized; callable from any thread.
 */
void pm_power_button(void *state);

/* Replace the PM timer's time source of a realized device (a test hook). */
void pm_set_clock(void *state, pm_clock_fn now_ns, void *opaque);

extern const struct device_type pm_type;

#endif
