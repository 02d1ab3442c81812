// SPDX-License-Identifier: MIT
/*
 * Tests of size and count parsing (src/config/size.c): suffixes in either
 * case and their "iB"/"B" spellings, bare numbers in MiB, strict rejection of
 * anything else (signs, fractions, spaces, unknown suffixes) and overflow
 * reported as -ERANGE, never wrapped.
 */
#include "unit/test.h"

#include <errno.h>

#include "config/size.h"

#define SENTINEL 0x5a5a5a5a5a5a5a5aull

static uint64_t size_of(const char *s)
{
	uint64_t v = SENTINEL;
	int rc = size_parse(s, &v);

	if (rc) {
		test_fail(__FILE__, __LINE__, "size_parse(\"%s\") = %d", s, rc);
		return SENTINEL;
	}
	return v;
}

/* Returns the error; checks the output was left alone. */
static int size_err(const char *s)
{
	uint64_t v = SENTINEL;
	int rc = size_parse(s, &v);

	if (v != SENTINEL)
		test_fail(__FILE__, __LINE__,
			  "size_parse(\"%s\") wrote a value on error", s);
	return rc;
}

static void suffixes_any_case(void)
{
	CHECK_EQ(size_of("1K"), 1024);
	CHECK_EQ(size_of("1k"), 1024);
	CHECK_EQ(size_of("3M"), 3ull << 20);
	CHECK_EQ(size_of("3m"), 3ull << 20);
	CHECK_EQ(size_of("2G"), 2ull << 30);
	CHECK_EQ(size_of("2g"), 2ull << 30);
	CHECK_EQ(size_of("5T"), 5ull << 40);
	CHECK_EQ(size_of("5t"), 5ull << 40);
	CHECK_EQ(size_of("0K"), 0);
	CHECK_EQ(size_of("007M"), 7ull << 20);
	CHECK_EQ(size_of("1536M"), 1536ull << 20);
	CHECK_EQ(size_of("16385K"), 16385ull << 10);
}

static void long_forms(void)
{
	CHECK_EQ(size_of("512MiB"), 512ull << 20);
	CHECK_EQ(size_of("512MB"), 512ull << 20);
	CHECK_EQ(size_of("512mB"), 512ull << 20);
	CHECK_EQ(size_of("2GiB"), 2ull << 30);
	CHECK_EQ(size_of("2giB"), 2ull << 30);
	CHECK_EQ(size_of("2GB"), 2ull << 30);
	CHECK_EQ(size_of("64KiB"), 64ull << 10);
	CHECK_EQ(size_of("64KB"), 64ull << 10);
	CHECK_EQ(size_of("1TiB"), 1ull << 40);
	CHECK_EQ(size_of("1TB"), 1ull << 40);
}

static void bare_number_is_mib(void)
{
	CHECK_EQ(size_of("1024"), 1024ull << 20);
	CHECK_EQ(size_of("1"), 1ull << 20);
	CHECK_EQ(size_of("0"), 0);
}

static void rejects_bad_syntax(void)
{
	static const char *const bad[] = {
		"",    "M",    "MiB",	"12Q",	"-1",	  "+1",	   "1.5G",
		" 1G", "1G ",  "1 G",	"1\tG", "1GG",	  "1Gi",   "1GiBB",
		"1iB", "1B",   "1MiBx", "0x10", "1e3",	  "1,024", "1_000",
		"G1",  "1G\n", "\n1G",	"1KM",	"1bytes",
	};
	uint64_t v = SENTINEL;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = size_err(bad[i]);

		if (rc != -EINVAL)
			test_fail(__FILE__, __LINE__,
				  "size_parse(\"%s\") = %d, want -EINVAL",
				  bad[i], rc);
	}
	CHECK_EQ(size_parse(NULL, &v), -EINVAL);
	CHECK_EQ(v, SENTINEL);
}

static void overflow_is_erange(void)
{
	/* The largest values that fit, then one unit more. */
	CHECK_EQ(size_of("16777215T"), 16777215ull << 40);
	CHECK_EQ(size_err("16777216T"), -ERANGE);
	CHECK_EQ(size_of("17179869183G"), 17179869183ull << 30);
	CHECK_EQ(size_err("17179869184G"), -ERANGE);
	CHECK_EQ(size_of("17592186044415"), 17592186044415ull << 20);
	CHECK_EQ(size_err("17592186044416"), -ERANGE);
	CHECK_EQ(size_err("17592186044416M"), -ERANGE);
	CHECK_EQ(size_of("18014398509481983K"), 18014398509481983ull << 10);
	CHECK_EQ(size_err("18014398509481984K"), -ERANGE);
	/* Digits alone overflow 64 bits. */
	CHECK_EQ(size_err("18446744073709551615"), -ERANGE);
	CHECK_EQ(size_err("18446744073709551616K"), -ERANGE);
	CHECK_EQ(size_err("99999999999999999999999999999999G"), -ERANGE);
}

static unsigned long uint_of(const char *s, unsigned long min,
			     unsigned long max)
{
	unsigned long v = 0x5a5a;
	int rc = uint_parse(s, min, max, &v);

	if (rc)
		test_fail(__FILE__, __LINE__, "uint_parse(\"%s\") = %d", s, rc);
	return v;
}

static int uint_err(const char *s, unsigned long min, unsigned long max)
{
	unsigned long v = 0x5a5a;
	int rc = uint_parse(s, min, max, &v);

	if (v != 0x5a5a)
		test_fail(__FILE__, __LINE__,
			  "uint_parse(\"%s\") wrote a value on error", s);
	return rc;
}

static void uint_bounds(void)
{
	CHECK_EQ(uint_of("1", 1, 255), 1);
	CHECK_EQ(uint_of("255", 1, 255), 255);
	CHECK_EQ(uint_of("0100", 1, 255), 100);
	CHECK_EQ(uint_of("0", 0, 0), 0);
	CHECK_EQ(uint_of("7", 7, 7), 7);
	CHECK_EQ(uint_of("18446744073709551615", 0, UINT64_MAX), UINT64_MAX);

	CHECK_EQ(uint_err("0", 1, 255), -ERANGE);
	CHECK_EQ(uint_err("256", 1, 255), -ERANGE);
	CHECK_EQ(uint_err("6", 7, 7), -ERANGE);
	CHECK_EQ(uint_err("8", 7, 7), -ERANGE);
	CHECK_EQ(uint_err("18446744073709551616", 0, UINT64_MAX), -ERANGE);
	CHECK_EQ(uint_err("99999999999999999999999", 1, 255), -ERANGE);

	CHECK_EQ(uint_err("", 0, 255), -EINVAL);
	CHECK_EQ(uint_err("abc", 0, 255), -EINVAL);
	CHECK_EQ(uint_err("2x", 0, 255), -EINVAL);
	CHECK_EQ(uint_err("-1", 0, 255), -EINVAL);
	CHECK_EQ(uint_err("+1", 0, 255), -EINVAL);
	CHECK_EQ(uint_err(" 1", 0, 255), -EINVAL);
	CHECK_EQ(uint_err("1 ", 0, 255), -EINVAL);
	CHECK_EQ(uint_err("1K", 0, 2000), -EINVAL);
	CHECK_EQ(uint_err("0x1", 0, 255), -EINVAL);
	CHECK_EQ(uint_err(NULL, 0, 255), -EINVAL);
}

TEST_SUITE(size, TEST_CASE(suffixes_any_case), TEST_CASE(long_forms),
	   TEST_CASE(bare_number_is_mib), TEST_CASE(rejects_bad_syntax),
	   TEST_CASE(overflow_is_erange), TEST_CASE(uint_bounds));
