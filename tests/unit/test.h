/* SPDX-License-Identifier: MIT */
/*
 * A small unit-test harness. Each test file defines one struct test_suite
 * and tests/unit/main.c lists every suite explicitly.
 *
 * Every test prints "PASS suite.name" or "FAIL suite.name: where and why";
 * tests/run counts those lines.
 */
#ifndef MICA_TESTS_UNIT_TEST_H
#define MICA_TESTS_UNIT_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

struct test_suite {
	const char *name;
	const struct test_case *cases;
	unsigned int nr_cases;
};

#define TEST_SUITE(sname, ...)                                              \
	static const struct test_case sname##_cases_[] = { __VA_ARGS__ };   \
	const struct test_suite sname##_suite = {                           \
		.name = #sname,                                             \
		.cases = sname##_cases_,                                    \
		.nr_cases =                                                 \
			sizeof(sname##_cases_) / sizeof(sname##_cases_[0]), \
	}

#define TEST_CASE(f)                \
	{                           \
		.name = #f, .fn = f \
	}

/* Records a failure of the running test; the test goes on. */
void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define CHECK(cond)                                                 \
	do {                                                        \
		if (!(cond))                                        \
			test_fail(__FILE__, __LINE__, "%s", #cond); \
	} while (0)

#define CHECK_EQ(a, b)                                                      \
	do {                                                                \
		unsigned long long a_ = (unsigned long long)(a);            \
		unsigned long long b_ = (unsigned long long)(b);            \
		if (a_ != b_)                                               \
			test_fail(__FILE__, __LINE__,                       \
				  "%s == %s: 0x%llx != 0x%llx", #a, #b, a_, \
				  b_);                                      \
	} while (0)

#define CHECK_STR(a, b)                                                    \
	do {                                                               \
		const char *a_ = (a), *b_ = (b);                           \
		if (!a_ || !b_ || strcmp(a_, b_))                          \
			test_fail(__FILE__, __LINE__,                      \
				  "%s == %s: \"%s\" != \"%s\"", #a, #b,    \
				  a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
	} while (0)

/*
 * Write a scratch file under a temporary directory made for this run.
 * Returns its path (static storage, valid until the next call with the same
 * name) or NULL.
 */
const char *test_tmpfile(const char *name, const void *data, size_t len);

#endif
