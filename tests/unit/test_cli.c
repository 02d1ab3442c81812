// SPDX-License-Identifier: MIT
/*
 * Tests of command-line parsing (src/config/cli.c): defaults, every option in
 * its long, short and "--opt=value" forms, help and version, and that every
 * mistake is rejected with a message naming the option or argument and the
 * offending value. argv is built from heap copies, as getopt_long() may
 * permute it, and freed after each parse so that a parser holding on to an
 * old argv is caught by ASan.
 */
#include "unit/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "arch/x86_64/layout.h"
#include "config/cli.h"

#define MAX_ARGS 32

struct args {
	int argc;
	char *argv[MAX_ARGS + 1];
};

/* Fills a with heap copies of the NULL-terminated list of strings. */
static void args_make(struct args *a, ...)
{
	const char *s;
	va_list ap;

	a->argc = 0;
	va_start(ap, a);
	while ((s = va_arg(ap, const char *)) && a->argc < MAX_ARGS)
		a->argv[a->argc++] = strdup(s);
	va_end(ap);
	a->argv[a->argc] = NULL;
}

static void args_free(struct args *a)
{
	int i;

	for (i = 0; i < a->argc; i++)
		free(a->argv[i]);
	a->argc = 0;
}

/* Parses, expecting failure; returns the message and checks it names all
 * of the given words. */
static char err[512];

#define EXPECT_FAIL(...) expect_fail(__LINE__, __VA_ARGS__)

static void expect_fail(int line, const char *want1, const char *want2,
			struct args *a)
{
	struct cli cli;
	int rc;

	memset(err, 0, sizeof(err));
	rc = cli_parse(a->argc, a->argv, &cli, err, sizeof(err));
	if (rc != -EINVAL)
		test_fail(__FILE__, line, "cli_parse = %d, want -EINVAL", rc);
	if (!err[0])
		test_fail(__FILE__, line, "no error message");
	if (want1 && !strstr(err, want1))
		test_fail(__FILE__, line, "message \"%s\" does not name \"%s\"",
			  err, want1);
	if (want2 && !strstr(err, want2))
		test_fail(__FILE__, line, "message \"%s\" does not name \"%s\"",
			  err, want2);
	args_free(a);
}

static int parse(struct args *a, struct cli *cli)
{
	int rc;

	memset(err, 0, sizeof(err));
	rc = cli_parse(a->argc, a->argv, cli, err, sizeof(err));
	if (rc)
		test_fail(__FILE__, __LINE__, "cli_parse = %d: %s", rc, err);
	return rc;
}

static void defaults(void)
{
	struct args a;
	struct cli cli;

	args_make(&a, "mica", "run", "--kernel", "bzImage", NULL);
	memset(&cli, 0xa5, sizeof(cli));
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(cli.command, CLI_RUN);
	CHECK_STR(cli.vm.kernel, "bzImage");
	CHECK(cli.vm.initrd == NULL);
	CHECK_STR(cli.vm.cmdline, CLI_DEFAULT_CMDLINE);
	CHECK_STR(cli.vm.cmdline, "console=ttyS0");
	CHECK_EQ(cli.vm.cpus, 1);
	CHECK_EQ(cli.vm.memory, 512ull << 20);
	CHECK_EQ(cli.vm.on_reboot, REBOOT_RESTART);
	CHECK(!cli.vm.debug_exit);
	CHECK_EQ(cli.verbosity, 0);
	args_free(&a);
}

static void every_option_long(void)
{
	struct args a;
	struct cli cli;

	args_make(&a, "mica", "run", "--kernel", "/k/vmlinux", "--initrd",
		  "/k/initrd.img", "--cmdline", "console=ttyS0 quiet", "--cpus",
		  "4", "--memory", "2G", "--on-reboot", "exit", "--debug-exit",
		  "--verbose", "--verbose", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(cli.command, CLI_RUN);
	CHECK_STR(cli.vm.kernel, "/k/vmlinux");
	CHECK_STR(cli.vm.initrd, "/k/initrd.img");
	CHECK_STR(cli.vm.cmdline, "console=ttyS0 quiet");
	CHECK_EQ(cli.vm.cpus, 4);
	CHECK_EQ(cli.vm.memory, 2ull << 30);
	CHECK_EQ(cli.vm.on_reboot, REBOOT_EXIT);
	CHECK(cli.vm.debug_exit);
	CHECK_EQ(cli.verbosity, 2);
	args_free(&a);
}

static void every_option_short_and_equals(void)
{
	struct args a;
	struct cli cli;

	args_make(&a, "mica", "run", "-k", "k1", "-i", "i1", "-c", "", "-n",
		  "255", "-m", "16", "-vv", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_STR(cli.vm.kernel, "k1");
	CHECK_STR(cli.vm.initrd, "i1");
	CHECK_STR(cli.vm.cmdline, ""); /* an empty command line is fine */
	CHECK_EQ(cli.vm.cpus, 255);
	CHECK_EQ(cli.vm.memory, 16ull << 20);
	CHECK_EQ(cli.verbosity, 2);
	args_free(&a);

	args_make(&a, "mica", "run", "--kernel=k2", "--initrd=i2",
		  "--cmdline=a=b c", "--cpus=2", "--memory=1024",
		  "--on-reboot=restart", "-kk3", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_STR(cli.vm.kernel, "k3"); /* the last one wins */
	CHECK_STR(cli.vm.initrd, "i2");
	CHECK_STR(cli.vm.cmdline, "a=b c");
	CHECK_EQ(cli.vm.cpus, 2);
	CHECK_EQ(cli.vm.memory, 1ull << 30);
	CHECK_EQ(cli.vm.on_reboot, REBOOT_RESTART);
	CHECK(!cli.vm.debug_exit);
	CHECK_EQ(cli.verbosity, 0);
	args_free(&a);

	/* Options after the kernel path, and the memory forms. */
	args_make(&a, "mica", "run", "-m", "3GiB", "-k", "k", "-m", "1536MB",
		  NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(cli.vm.memory, 1536ull << 20);
	args_free(&a);
}

static void help_and_version(void)
{
	static const char *const help[] = { "--help", "-h", "help" };
	struct args a;
	struct cli cli;
	unsigned int i;

	for (i = 0; i < 3; i++) {
		args_make(&a, "mica", help[i], NULL);
		CHECK_EQ(parse(&a, &cli), 0);
		CHECK_EQ(cli.command, CLI_HELP);
		args_free(&a);
	}
	args_make(&a, "mica", "--version", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(cli.command, CLI_VERSION);
	args_free(&a);
	args_make(&a, "mica", "version", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(cli.command, CLI_VERSION);
	args_free(&a);

	/* "run --help" needs no kernel. */
	args_make(&a, "mica", "run", "--help", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(cli.command, CLI_HELP);
	args_free(&a);
	args_make(&a, "mica", "run", "-m", "1G", "-h", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(cli.command, CLI_HELP);
	args_free(&a);

	CHECK(strstr(cli_usage, "--kernel") != NULL);
	CHECK(strstr(cli_usage, "--on-reboot") != NULL);
}

/*
 * getopt_long() keeps state between calls. A parse that stops in the middle
 * of a cluster of short options ("-hv") must not leak into the next parse.
 * The old argv is kept alive here so that a stale pointer into it is seen
 * as a wrong result (glibc is not instrumented, so ASan would not see the
 * read of freed memory).
 */
static void repeated_parses_are_independent(void)
{
	struct args old, a;
	struct cli cli;

	args_make(&old, "mica", "run", "-hv", NULL);
	CHECK_EQ(parse(&old, &cli), 0);
	CHECK_EQ(cli.command, CLI_HELP);
	args_make(&a, "mica", "run", "--kernel", "k", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(cli.command, CLI_RUN);
	CHECK_STR(cli.vm.kernel, "k");
	CHECK_EQ(cli.verbosity, 0);
	args_free(&a);
	args_free(&old);

	args_make(&old, "mica", "run", "-qv", "-k", "k", NULL);
	CHECK_EQ(cli_parse(old.argc, old.argv, &cli, err, sizeof(err)),
		 -EINVAL);
	args_make(&a, "mica", "run", "-k", "k2", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_STR(cli.vm.kernel, "k2");
	CHECK_EQ(cli.verbosity, 0);
	args_free(&a);
	args_free(&old);

	/* An error in the middle of a cluster, then the same argv again. */
	args_make(&old, "mica", "run", "-k", "k", "-vnx", NULL);
	EXPECT_FAIL("--cpus", "'x'", &old);
	args_make(&a, "mica", "run", "-k", "k", "-vnx", NULL);
	EXPECT_FAIL("--cpus", "'x'", &a);
}

static void missing_kernel(void)
{
	struct args a;

	args_make(&a, "mica", "run", NULL);
	EXPECT_FAIL("--kernel", NULL, &a);
	args_make(&a, "mica", "run", "--memory", "1G", "--cpus", "2", NULL);
	EXPECT_FAIL("--kernel", NULL, &a);
	args_make(&a, "mica", "run", "--kernel=", NULL);
	EXPECT_FAIL("--kernel", "empty", &a);
	args_make(&a, "mica", "run", "-k", "k", "--initrd", "", NULL);
	EXPECT_FAIL("--initrd", "empty", &a);
}

static void unknown_options_named(void)
{
	struct args a;

	args_make(&a, "mica", "run", "--kernel", "k", "--frobnicate", NULL);
	EXPECT_FAIL("--frobnicate", NULL, &a);
	args_make(&a, "mica", "run", "--kernel", "k", "--colour=red", NULL);
	EXPECT_FAIL("--colour", NULL, &a);
	args_make(&a, "mica", "run", "-x", "--kernel", "k", NULL);
	EXPECT_FAIL("-x", NULL, &a);
	/* An unknown short option inside a cluster is named by itself. */
	args_make(&a, "mica", "run", "--kernel", "k", "-vqv", NULL);
	EXPECT_FAIL("-q", NULL, &a);
	args_make(&a, "mica", "run", "--kernel", "k", "-vz", NULL);
	EXPECT_FAIL("-z", NULL, &a);
	/* A flag given a value. */
	args_make(&a, "mica", "run", "--kernel", "k", "--debug-exit=1", NULL);
	EXPECT_FAIL("--debug-exit", NULL, &a);
	args_make(&a, "mica", "run", "--kernel", "k", "--verbose=2", NULL);
	EXPECT_FAIL("--verbose", NULL, &a);
}

static void option_missing_value(void)
{
	struct args a;

	args_make(&a, "mica", "run", "--kernel", NULL);
	EXPECT_FAIL("--kernel", NULL, &a);
	args_make(&a, "mica", "run", "--kernel", "k", "--memory", NULL);
	EXPECT_FAIL("--memory", NULL, &a);
	args_make(&a, "mica", "run", "--kernel", "k", "--on-reboot", NULL);
	EXPECT_FAIL("--on-reboot", NULL, &a);
	args_make(&a, "mica", "run", "--kernel", "k", "-n", NULL);
	EXPECT_FAIL("-n", NULL, &a);
	args_make(&a, "mica", "run", "--kernel", "k", "-c", NULL);
	EXPECT_FAIL("-c", NULL, &a);
}

static void bad_cpus(void)
{
	static const char *const bad[] = {
		"0", "256", "abc", "2x", "", "-1", "1.5", "99999999999999999999"
	};
	unsigned int i;
	struct args a;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char quoted[64];

		snprintf(quoted, sizeof(quoted), "'%s'", bad[i]);
		args_make(&a, "mica", "run", "-k", "k", "--cpus", bad[i], NULL);
		EXPECT_FAIL("--cpus", quoted, &a);
	}
	args_make(&a, "mica", "run", "-k", "k", "--cpus=0", NULL);
	EXPECT_FAIL("--cpus", "range", &a);
	args_make(&a, "mica", "run", "-k", "k", "-n", "2x", NULL);
	EXPECT_FAIL("--cpus", "not a number", &a);
}

static void bad_memory(void)
{
	struct args a;

	args_make(&a, "mica", "run", "-k", "k", "--memory", "8M", NULL);
	EXPECT_FAIL("'8M'", "too small", &a);
	args_make(&a, "mica", "run", "-k", "k", "--memory", "15", NULL);
	EXPECT_FAIL("'15'", "too small", &a);
	args_make(&a, "mica", "run", "-k", "k", "--memory", "0", NULL);
	EXPECT_FAIL("--memory", "too small", &a);
	args_make(&a, "mica", "run", "-k", "k", "--memory", "2T", NULL);
	EXPECT_FAIL("'2T'", "too large", &a);
	args_make(&a, "mica", "run", "-k", "k", "--memory",
		  "99999999999999999999G", NULL);
	EXPECT_FAIL("--memory", "too large", &a);
	args_make(&a, "mica", "run", "-k", "k", "--memory", "16385K", NULL);
	EXPECT_FAIL("'16385K'", "MiB", &a);
	args_make(&a, "mica", "run", "-k", "k", "--memory", "lots", NULL);
	EXPECT_FAIL("--memory", "'lots'", &a);
	args_make(&a, "mica", "run", "-k", "k", "-m", "1.5G", NULL);
	EXPECT_FAIL("--memory", "'1.5G'", &a);
	args_make(&a, "mica", "run", "-k", "k", "-m", "", NULL);
	EXPECT_FAIL("--memory", NULL, &a);

	/* The limits themselves are accepted. */
	{
		struct cli cli;

		args_make(&a, "mica", "run", "-k", "k", "-m", "16M", NULL);
		CHECK_EQ(parse(&a, &cli), 0);
		CHECK_EQ(cli.vm.memory, 16ull << 20);
		args_free(&a);
		args_make(&a, "mica", "run", "-k", "k", "-m", "1T", NULL);
		CHECK_EQ(parse(&a, &cli), 0);
		CHECK_EQ(cli.vm.memory, 1ull << 40);
		args_free(&a);
	}
}

static void bad_on_reboot(void)
{
	struct args a;

	args_make(&a, "mica", "run", "-k", "k", "--on-reboot", "shutdown",
		  NULL);
	EXPECT_FAIL("--on-reboot", "'shutdown'", &a);
	args_make(&a, "mica", "run", "-k", "k", "--on-reboot=EXIT", NULL);
	EXPECT_FAIL("--on-reboot", "'EXIT'", &a);
	args_make(&a, "mica", "run", "-k", "k", "--on-reboot=", NULL);
	EXPECT_FAIL("--on-reboot", "restart", &a);
}

static void cmdline_length_limit(void)
{
	size_t max = LAYOUT_CMDLINE_MAX - 1;
	char *line = malloc(max + 2);
	struct args a;
	struct cli cli;

	CHECK(line != NULL);
	if (!line)
		return;
	memset(line, 'x', max + 1);
	line[max + 1] = '\0'; /* 65536 bytes */
	args_make(&a, "mica", "run", "-k", "k", "--cmdline", line, NULL);
	EXPECT_FAIL("--cmdline", "65536", &a);

	line[max] = '\0'; /* 65535 bytes: the longest accepted */
	args_make(&a, "mica", "run", "-k", "k", "--cmdline", line, NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(strlen(cli.vm.cmdline), max);
	args_free(&a);
	free(line);
}

static void stray_argument_and_bad_command(void)
{
	struct args a;

	args_make(&a, "mica", "run", "--kernel", "k", "extra", NULL);
	EXPECT_FAIL("'extra'", NULL, &a);
	args_make(&a, "mica", "run", "stray", "--kernel", "k", NULL);
	EXPECT_FAIL("'stray'", NULL, &a);
	args_make(&a, "mica", "run", "-k", "k", "--", "-m", NULL);
	EXPECT_FAIL("'-m'", NULL, &a);
	args_make(&a, "mica", "start", "--kernel", "k", NULL);
	EXPECT_FAIL("'start'", "command", &a);
	args_make(&a, "mica", "--kernel", "k", NULL);
	EXPECT_FAIL("'--kernel'", "command", &a);
	args_make(&a, "mica", "", NULL);
	EXPECT_FAIL("command", NULL, &a);
	args_make(&a, "mica", NULL);
	EXPECT_FAIL("command", NULL, &a);
}

static void small_error_buffer_truncates(void)
{
	struct args a;
	struct cli cli;
	char small[8];

	memset(small, 'z', sizeof(small));
	args_make(&a, "mica", "run", "--frobnicate", NULL);
	CHECK_EQ(cli_parse(a.argc, a.argv, &cli, small, sizeof(small)),
		 -EINVAL);
	CHECK(memchr(small, '\0', sizeof(small)) != NULL);
	args_free(&a);
}

static void vcpu_affinity(void)
{
	static const char *const bad[] = { "",	  ",",	  "0,",
					   ",1",  "0,,1", "1024",
					   "a",	  "-1",	  "0 1",
					   "1.0", "0;1",  "99999999999999999" };
	struct args a;
	struct cli cli;
	unsigned int i;

	args_make(&a, "mica", "run", "-k", "k", "--vcpu-affinity", "3,0,1023",
		  NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(cli.vm.nr_vcpu_affinity, 3);
	CHECK_EQ(cli.vm.vcpu_affinity[0], 3);
	CHECK_EQ(cli.vm.vcpu_affinity[1], 0);
	CHECK_EQ(cli.vm.vcpu_affinity[2], 1023);
	args_free(&a);

	args_make(&a, "mica", "run", "-k", "k", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(cli.vm.nr_vcpu_affinity, 0);
	args_free(&a);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char quoted[64];

		snprintf(quoted, sizeof(quoted), "'%s'", bad[i]);
		args_make(&a, "mica", "run", "-k", "k", "--vcpu-affinity",
			  bad[i], NULL);
		EXPECT_FAIL("--vcpu-affinity", quoted, &a);
	}
}

static void devices_parsed(void)
{
	struct args a;
	struct cli cli;
	const struct disk_config *d;
	const struct net_config *n;

	args_make(
		&a, "mica", "run", "-k", "k", "--disk", "a.img,readonly",
		"--disk", "path=b.img,serial=SN-1,cache=none,queues=4", "--net",
		"user,hostfwd=tcp::8080-:80,hostfwd=udp:127.0.0.1:5353-10.0.2.15:53",
		"--net", "tap=tap0,mac=52:54:00:aa:bb:cc", "--console",
		"virtio", "--rng", "rate=64K", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(cli.vm.nr_disks, 2);
	d = &cli.vm.disks[0];
	CHECK_STR(d->path, "a.img");
	CHECK(d->readonly);
	CHECK_STR(d->serial, "");
	CHECK_EQ(d->cache, DISK_CACHE_WRITEBACK);
	CHECK_EQ(d->queues, 1);
	d = &cli.vm.disks[1];
	CHECK_STR(d->path, "b.img");
	CHECK(!d->readonly);
	CHECK_STR(d->serial, "SN-1");
	CHECK_EQ(d->cache, DISK_CACHE_NONE);
	CHECK_EQ(d->queues, 4);
	CHECK_EQ(cli.vm.nr_nets, 2);
	n = &cli.vm.nets[0];
	CHECK_EQ(n->backend, NET_USER);
	CHECK_EQ(n->nr_hostfwd, 2);
	CHECK(!n->hostfwd[0].udp);
	CHECK_EQ(n->hostfwd[0].host_addr, 0);
	CHECK_EQ(n->hostfwd[0].host_port, 8080);
	CHECK_EQ(n->hostfwd[0].guest_addr, 0);
	CHECK_EQ(n->hostfwd[0].guest_port, 80);
	CHECK(n->hostfwd[1].udp);
	CHECK_EQ(n->hostfwd[1].host_addr, htonl(0x7f000001));
	CHECK_EQ(n->hostfwd[1].host_port, 5353);
	CHECK_EQ(n->hostfwd[1].guest_addr, htonl(0x0a00020f));
	CHECK_EQ(n->hostfwd[1].guest_port, 53);
	/* Default MACs are locally administered, unicast and distinct. */
	CHECK_EQ(n->mac[0], 0x52);
	CHECK_EQ(n->mac[5], 0);
	n = &cli.vm.nets[1];
	CHECK_EQ(n->backend, NET_TAP);
	CHECK_STR(n->tap, "tap0");
	CHECK_EQ(n->mac[3], 0xaa);
	CHECK_EQ(n->mac[5], 0xcc);
	CHECK_EQ(cli.vm.console, CONSOLE_VIRTIO);
	CHECK_STR(cli.vm.cmdline, "console=hvc0");
	CHECK_EQ(cli.vm.rng_rate, 64 << 10);
	args_free(&a);

	/* An explicit command line wins over the virtio console default. */
	args_make(&a, "mica", "run", "-k", "k", "--console", "virtio", "-c",
		  "quiet", "--rng", "on", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_STR(cli.vm.cmdline, "quiet");
	CHECK_EQ(cli.vm.rng_rate, 1 << 20);
	CHECK_EQ(cli.vm.nr_disks, 0);
	CHECK_EQ(cli.vm.nr_nets, 0);
	args_free(&a);
}

static void bad_devices(void)
{
	static const struct {
		const char *opt, *value, *want;
	} bad[] = {
		{ "--disk", "", "path=FILE is required" },
		{ "--disk", "readonly=on", "path=FILE is required" },
		{ "--disk", "path=", "'path' needs a value" },
		{ "--disk", "a,,readonly", "empty item" },
		{ "--disk", "a,", "trailing comma" },
		{ "--disk", "a,bogus=1", "unknown key 'bogus'" },
		{ "--disk", "a,readonly=maybe", "expected on or off" },
		{ "--disk", "a,cache=sometimes", "cache='sometimes'" },
		{ "--disk", "a,queues=0", "queues='0'" },
		{ "--disk", "a,queues=17", "queues='17'" },
		{ "--disk", "a,serial=123456789012345678901",
		  "longer than 20" },
		{ "--net", "", "expected 'user' or 'tap=NAME'" },
		{ "--net", "bridge", "start with 'user'" },
		{ "--net", "tap", "'tap' needs a value" },
		{ "--net", "tap=a/b", "not an interface name" },
		{ "--net", "tap=t0,hostfwd=tcp::1-:2",
		  "unknown key 'hostfwd'" },
		{ "--net", "user,hostfwd=tcp:80", "hostfwd='tcp:80'" },
		{ "--net", "user,hostfwd=sctp::1-:2", "hostfwd='sctp::1-:2'" },
		{ "--net", "user,hostfwd=tcp::0-:80", "hostfwd='tcp::0-:80'" },
		{ "--net", "user,hostfwd=tcp::65536-:80", "65536" },
		{ "--net", "user,hostfwd=tcp:1.2.3:8-:80", "1.2.3" },
		{ "--net", "user,hostfwd=tcp::8-:9,hostfwd=tcp::8-:10",
		  "forwarded twice" },
		{ "--net", "user,mac=52:54:00:12:34", "mac='52:54:00:12:34'" },
		{ "--net", "user,mac=52-54-00-12-34-56", "six hex bytes" },
		{ "--net", "user,mac=01:00:5e:00:00:01", "multicast" },
		{ "--net", "user,mac=00:00:00:00:00:00", "all zeros" },
		{ "--console", "hvc0", "expected 'serial' or 'virtio'" },
		{ "--rng", "yes", "expected on, off or rate=SIZE" },
		{ "--rng", "rate=fast", "not a size" },
		{ "--rng", "rate=10", "rate must be" },
		{ "--rng", "rate=2G", "rate must be" },
	};
	struct args a;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		args_make(&a, "mica", "run", "-k", "k", bad[i].opt,
			  bad[i].value, NULL);
		EXPECT_FAIL(bad[i].opt, bad[i].want, &a);
	}
	/* Across devices. */
	args_make(&a, "mica", "run", "-k", "k", "--disk", "x", "--disk",
		  "path=x,readonly", NULL);
	EXPECT_FAIL("--disk 'x'", "given twice", &a);
	args_make(&a, "mica", "run", "-k", "k", "--net",
		  "user,mac=52:54:00:0:0:1", NULL);
	EXPECT_FAIL("--net", "mac=", &a);
	args_make(&a, "mica", "run", "-k", "k", "--net",
		  "user,mac=52:54:00:00:00:01", "--net",
		  "tap=t,mac=52:54:00:00:00:01", NULL);
	EXPECT_FAIL("--net", "same MAC", &a);
}

static void readonly_disks_may_share(void)
{
	struct args a;
	struct cli cli;

	args_make(&a, "mica", "run", "-k", "k", "--disk", "x,readonly",
		  "--disk", "path=x,readonly=on", NULL);
	CHECK_EQ(parse(&a, &cli), 0);
	CHECK_EQ(cli.vm.nr_disks, 2);
	args_free(&a);
}

TEST_SUITE(cli, TEST_CASE(defaults), TEST_CASE(every_option_long),
	   TEST_CASE(every_option_short_and_equals),
	   TEST_CASE(help_and_version),
	   TEST_CASE(repeated_parses_are_independent),
	   TEST_CASE(missing_kernel), TEST_CASE(unknown_options_named),
	   TEST_CASE(option_missing_value), TEST_CASE(bad_cpus),
	   TEST_CASE(bad_memory), TEST_CASE(bad_on_reboot),
	   TEST_CASE(cmdline_length_limit),
	   TEST_CASE(stray_argument_and_bad_command),
	   TEST_CASE(small_error_buffer_truncates), TEST_CASE(vcpu_affinity),
	   TEST_CASE(devices_parsed), TEST_CASE(bad_devices),
	   TEST_CASE(readonly_disks_may_share));
