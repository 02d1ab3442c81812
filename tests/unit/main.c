// SPDX-License-Identifier: MIT
/*
 * The unit-test runner: runs every suite listed below, or only those named
 * on the command line.
 */
#include "unit/test.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SUITES(X)         \
	X(guest_mem)      \
	X(bus)            \
	X(size)           \
	X(cli)            \
	X(e820)           \
	X(boot)           \
	X(bzimage)        \
	X(pvh)            \
	X(acpi)           \
	X(cpuid)          \
	X(uart)           \
	X(i8042)          \
	X(rtc)            \
	X(pm)             \
	X(registry)       \
	X(pci)            \
	X(msix)           \
	X(virtq)          \
	X(virtq_hostile)  \
	X(virtio_pci)     \
	X(virtio_blk)     \
	X(block)          \
	X(virtio_net)     \
	X(net_backend)    \
	X(virtio_console) \
	X(virtio_rng)     \
	X(loop)           \
	X(xlcfg)          \
	X(domcfg)         \
	X(control)        \
	X(micad_state)    \
	X(micad_api)      \
	X(cli_verbs)

/*
 * Weak references: a listed suite whose file is missing is reported as a
 * failure below rather than breaking the link.
 */
#define DECLARE(s) \
	extern const struct test_suite s##_suite __attribute__((weak));
SUITES(DECLARE)
#define REF(s) &s##_suite,
static const struct test_suite *const suites[] = { SUITES(REF) };
#define NAME(s) #s,
static const char *const suite_names[] = { SUITES(NAME) };

static unsigned int failures_in_test;
static char tmpdir[] = "/tmp/mica-unit-XXXXXX";
static bool have_tmpdir;

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (failures_in_test++ < 5) {
		fprintf(stdout, "  %s:%d: ", file, line);
		va_start(ap, fmt);
		vfprintf(stdout, fmt, ap);
		va_end(ap);
		fputc('\n', stdout);
	}
}

const char *test_tmpfile(const char *name, const void *data, size_t len)
{
	static char path[PATH_MAX];
	int fd;

	if (!have_tmpdir) {
		if (!mkdtemp(tmpdir))
			return NULL;
		have_tmpdir = true;
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return NULL;
	if (len && write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return NULL;
	}
	close(fd);
	return path;
}

static bool wanted(const char *suite, int argc, char **argv)
{
	int i;

	if (argc < 2)
		return true;
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], suite))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	unsigned int passed = 0, failed = 0, s, c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (s = 0; s < sizeof(suites) / sizeof(suites[0]); s++) {
		if (!wanted(suite_names[s], argc, argv))
			continue;
		if (!suites[s]) {
			printf("FAIL unit.%s: suite listed in tests/unit/main.c "
			       "but not linked\n",
			       suite_names[s]);
			failed++;
			continue;
		}
		for (c = 0; c < suites[s]->nr_cases; c++) {
			failures_in_test = 0;
			suites[s]->cases[c].fn();
			printf("%s unit.%s.%s\n",
			       failures_in_test ? "FAIL" : "PASS",
			       suites[s]->name, suites[s]->cases[c].name);
			if (failures_in_test)
				failed++;
			else
				passed++;
		}
	}
	if (have_tmpdir) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	printf("unit: %u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
