/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables for a mica x86-64 machine: RSDP, XSDT, FADT (+FACS), DSDT and
 * MADT, written into a host buffer that the VM copies to LAYOUT_ACPI.
 */
#ifndef MICA_ARCH_X86_64_ACPI_H
#define MICA_ARCH_X86_64_ACPI_H

#include <stddef.h>
#include <stdint.h>

/*
 * xAPIC IDs are 8 bits and 0xff is the broadcast ID (and, in the MADT, the
 * ACPI processor UID meaning "all processors").
 */
#define ACPI_MAX_CPUS 255

struct acpi_config {
	unsigned int nr_cpus; /* 1 .. ACPI_MAX_CPUS; APIC IDs 0 .. nr_cpus - 1 */
	uint64_t base_gpa; /* guest-physical address of buf[0], 16-aligned */
};

/*
 * Writes all tables into buf, the RSDP at offset 0; every pointer between
 * tables is cfg->base_gpa plus the target's offset in buf. On success stores
 * the number of bytes used in *used and returns 0. Returns -EINVAL for a bad
 * configuration (nr_cpus out of range, base_gpa not 16-byte aligned or
 * base_gpa + len past 2^64, a NULL pointer), or -ENOSPC if buf is too small,
 * in which case *used is set to the size needed and buf is left untouched.
 * Never writes past buf[len - 1].
 */
int acpi_build(const struct acpi_config *cfg, void *buf, size_t len,
	       size_t *used);

/*
 * The AML PkgLength (ACPI 6.3 20.2.4) for an object whose bytes after the
 * PkgLength number body_len: writes the shortest encoding (which counts its
 * own 1 to 4 bytes) to out and returns its size, or returns -EOVERFLOW if the
 * total exceeds 2^28 - 1. Exposed for the unit tests.
 */
int acpi_aml_pkglength(size_t body_len, uint8_t out[4]);

#endif
