/* SPDX-License-Identifier: MIT */
/* Parsing of sizes ("512M", "2G") and counts given by the user. */
#ifndef MICA_CONFIG_SIZE_H
#define MICA_CONFIG_SIZE_H

#include <stdint.h>

/*
 * A decimal number with an optional binary suffix K, M, G or T (any case,
 * optionally followed by "iB" or "B"). A bare number is in MiB, as with
 * QEMU's -m. Returns 0, -EINVAL for bad syntax or -ERANGE on overflow.
 */
int size_parse(const char *s, uint64_t *bytes);

/* A plain decimal number in [min, max]. Returns 0, -EINVAL or -ERANGE. */
int uint_parse(const char *s, unsigned long min, unsigned long max,
	       unsigned long *out);

#endif
