// SPDX-License-Identifier: MIT
/*
 * Command-line parsing for "mica run". Every value is validated here, so the
 * VM only ever sees a well-formed struct vm_config; a mistake gets one
 * message naming the option and the reason.
 */
#include "config/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "config/devopts.h"
#include "config/size.h"

const char cli_usage[] =
	"Usage: mica run --kernel PATH [options]\n"
	"       mica --help | --version\n"
	"\n"
	"Boots a Linux kernel (bzImage, or vmlinux ELF with a PVH entry) in a\n"
	"KVM virtual machine with its console on this terminal.\n"
	"\n"
	"Options for run:\n"
	"  -k, --kernel PATH        kernel to boot (required)\n"
	"  -i, --initrd PATH        initial ramdisk\n"
	"  -c, --cmdline STRING     kernel command line (default \"" CLI_DEFAULT_CMDLINE
	"\")\n"
	"  -n, --cpus N             number of vCPUs, 1-255 (default 1)\n"
	"  -m, --memory SIZE        guest RAM, e.g. 512M, 2G; a bare number is\n"
	"                           MiB (default 512M)\n"
	"      --on-reboot ACTION   'restart' the guest (default) or 'exit'\n"
	"                           mica with status 2\n"
	"      --vcpu-affinity LIST pin vCPU i to the i-th host CPU of LIST\n"
	"                           (e.g. 0,1; reused round-robin if shorter)\n"
	"\n"
	"Devices (virtio over PCI; --disk and --net may be repeated):\n"
	"      --disk [path=]FILE[,readonly=on][,serial=ID][,cache=MODE][,queues=N]\n"
	"                           a raw disk image; MODE is writeback (default),\n"
	"                           none (O_DIRECT) or unsafe (no flushes)\n"
	"      --net user[,hostfwd=tcp::HOSTPORT-:GUESTPORT][,mac=MAC]\n"
	"                           user-mode networking (no root): DHCP gives\n"
	"                           10.0.2.15, the host is 10.0.2.2\n"
	"      --net tap=NAME[,mac=MAC]\n"
	"                           a tap device, with checksum/TSO offloads\n"
	"      --console KIND       'serial' (ttyS0, default) or 'virtio' (hvc0;\n"
	"                           the default command line becomes console=hvc0)\n"
	"      --rng on|off|rate=SIZE\n"
	"                           virtio-rng from the host's getrandom(), at most\n"
	"                           SIZE bytes per second (on: 1M)\n"
	"\n"
	"Control (for a toolstack such as micad; see docs/api-vmm.md):\n"
	"      --api-socket PATH    serve the HTTP/JSON control API on a UNIX\n"
	"                           socket at PATH (owner only)\n"
	"      --console-socket PATH\n"
	"                           the console on a UNIX socket at PATH instead\n"
	"                           of this terminal; one client at a time\n"
	"      --console-history SIZE\n"
	"                           console output kept for the next client,\n"
	"                           4K to 16M (default 64K)\n"
	"      --status-file PATH   at exit, write {\"status\":N,\"reason\":...}\n"
	"                           to PATH (atomically; for micad)\n"
	"\n"
	"Testing:\n"
	"      --debug-exit         test device: a write of V to port 0xf4\n"
	"                           exits with status V\n"
	"  -v, --verbose            more messages (twice: debug)\n"
	"  -h, --help               this text\n"
	"\n"
	"Console: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A, Ctrl-A h helps.\n"
	"Exit status: 0 guest powered off (or quit), 1 error, 2 guest rebooted\n"
	"with --on-reboot exit, 3 guest crashed, 4 stopped by a signal.\n";

static int cli_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cli_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

enum {
	OPT_ON_REBOOT = 0x100,
	OPT_DEBUG_EXIT,
	OPT_VCPU_AFFINITY,
	OPT_DISK,
	OPT_NET,
	OPT_CONSOLE,
	OPT_RNG,
	OPT_API_SOCKET,
	OPT_CONSOLE_SOCKET,
	OPT_CONSOLE_HISTORY,
	OPT_STATUS_FILE,
};

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "cmdline", required_argument, NULL, 'c' },
	{ "cpus", required_argument, NULL, 'n' },
	{ "memory", required_argument, NULL, 'm' },
	{ "on-reboot", required_argument, NULL, OPT_ON_REBOOT },
	{ "debug-exit", no_argument, NULL, OPT_DEBUG_EXIT },
	{ "vcpu-affinity", required_argument, NULL, OPT_VCPU_AFFINITY },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "rng", required_argument, NULL, OPT_RNG },
	{ "api-socket", required_argument, NULL, OPT_API_SOCKET },
	{ "console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET },
	{ "console-history", required_argument, NULL, OPT_CONSOLE_HISTORY },
	{ "status-file", required_argument, NULL, OPT_STATUS_FILE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static int parse_memory(const char *arg, uint64_t *out, char *err,
			size_t errlen)
{
	uint64_t v;
	int rc = size_parse(arg, &v);

	if (rc == -EINVAL)
		return cli_fail(err, errlen,
				"--memory '%s': not a size (examples: 512M, "
				"2G, 1024)",
				arg);
	if (rc || v > CONFIG_MAX_MEMORY)
		return cli_fail(err, errlen,
				"--memory '%s': too large (at most %llu GiB)",
				arg, CONFIG_MAX_MEMORY >> 30);
	if (v < CONFIG_MIN_MEMORY)
		return cli_fail(err, errlen,
				"--memory '%s': too small (at least %llu MiB)",
				arg, CONFIG_MIN_MEMORY >> 20);
	if (v & ((1ull << 20) - 1))
		return cli_fail(err, errlen,
				"--memory '%s': must be a whole number of MiB",
				arg);
	*out = v;
	return 0;
}

static int parse_history(const char *arg, uint64_t *out, char *err,
			 size_t errlen)
{
	uint64_t v;
	int rc = size_parse(arg, &v);

	if (rc == -EINVAL)
		return cli_fail(err, errlen,
				"--console-history '%s': not a size "
				"(examples: 64K, 1M)",
				arg);
	if (rc || v < CLI_MIN_CONSOLE_HISTORY || v > CLI_MAX_CONSOLE_HISTORY)
		return cli_fail(err, errlen,
				"--console-history '%s': out of range (4K to "
				"16M)",
				arg);
	*out = v;
	return 0;
}

/* A socket path: not empty, and short enough for sun_path (108 bytes). */
static int parse_socket_path(const char *opt, const char *arg, const char **out,
			     char *err, size_t errlen)
{
	if (!*arg)
		return cli_fail(err, errlen, "%s: empty path", opt);
	if (strlen(arg) > 107)
		return cli_fail(err, errlen,
				"%s: path of %zu bytes is too long for a UNIX "
				"socket (at most 107)",
				opt, strlen(arg));
	*out = arg;
	return 0;
}

/*
 * getopt_long() returned '?'. optopt is 0 for an unknown long option, the
 * option's value for a known long option given a value it does not take,
 * and the character for an unknown short option. Only in the last case can
 * argv[optind - 1] be the wrong element: inside a cluster ("-vq") optind has
 * not moved past it yet, so the option is named by its character.
 */
static int bad_option(char **argv, char *err, size_t errlen)
{
	const struct option *o;

	for (o = run_options; optopt && o->name; o++)
		if (o->val == optopt)
			return cli_fail(err, errlen,
					"option '%s' takes no value",
					argv[optind - 1]);
	if (optopt)
		return cli_fail(err, errlen,
				"unknown option '-%c' (see 'mica run --help')",
				optopt);
	return cli_fail(err, errlen,
			"unknown option '%s' (see 'mica run --help')",
			argv[optind - 1]);
}

/* "0,1,3": host CPU numbers, comma-separated. */
static int parse_affinity(const char *arg, struct vm_config *vm, char *err,
			  size_t errlen)
{
	const char *p = arg;

	vm->nr_vcpu_affinity = 0;
	for (;;) {
		char num[16];
		size_t len = strcspn(p, ",");
		unsigned long cpu;

		if (len == 0 || len >= sizeof(num) ||
		    vm->nr_vcpu_affinity == CONFIG_MAX_CPUS)
			goto bad;
		memcpy(num, p, len);
		num[len] = '\0';
		if (uint_parse(num, 0, CONFIG_MAX_HOST_CPU, &cpu))
			goto bad;
		vm->vcpu_affinity[vm->nr_vcpu_affinity++] = (unsigned short)cpu;
		if (!p[len])
			return 0;
		p += len + 1;
	}
bad:
	return cli_fail(err, errlen,
			"--vcpu-affinity '%s': expected host CPU numbers 0-%u "
			"separated by commas, e.g. 0,1",
			arg, CONFIG_MAX_HOST_CPU);
}

/* Checks across devices: one path per writable disk, distinct MACs. */
static int check_devices(const struct vm_config *vm, char *err, size_t errlen)
{
	unsigned int i, j;

	for (i = 0; i < vm->nr_disks; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(vm->disks[i].path, vm->disks[j].path) &&
			    !(vm->disks[i].readonly && vm->disks[j].readonly))
				return cli_fail(err, errlen,
						"--disk '%s' is given twice; "
						"only read-only disks may "
						"share an image",
						vm->disks[i].path);
	for (i = 0; i < vm->nr_nets; i++)
		for (j = 0; j < i; j++)
			if (!memcmp(vm->nets[i].mac, vm->nets[j].mac, 6))
				return cli_fail(err, errlen,
						"--net: interfaces %u and %u "
						"have the same MAC address",
						j, i);
	return 0;
}

static int parse_run(int argc, char **argv, struct cli *cli, char *err,
		     size_t errlen)
{
	struct vm_config *vm = &cli->vm;
	bool cmdline_given = false, history_given = false;
	unsigned long n;
	int c, rc;

	/*
	 * 0, not 1: glibc and musl then also forget a half-parsed cluster of
	 * short options ("-hv") left over from an earlier call.
	 */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:i:c:n:m:vh", run_options,
				NULL)) != -1) {
		switch (c) {
		case 'k':
			vm->kernel = optarg;
			break;
		case 'i':
			vm->initrd = optarg;
			break;
		case 'c':
			vm->cmdline = optarg;
			cmdline_given = true;
			break;
		case 'n':
			rc = uint_parse(optarg, 1, CONFIG_MAX_CPUS, &n);
			if (rc)
				return cli_fail(err, errlen,
						"--cpus '%s': %s (1 to %u)",
						optarg,
						rc == -ERANGE ? "out of range" :
								"not a number",
						CONFIG_MAX_CPUS);
			vm->cpus = (unsigned int)n;
			break;
		case 'm':
			rc = parse_memory(optarg, &vm->memory, err, errlen);
			if (rc)
				return rc;
			break;
		case OPT_ON_REBOOT:
			if (!strcmp(optarg, "restart"))
				vm->on_reboot = REBOOT_RESTART;
			else if (!strcmp(optarg, "exit"))
				vm->on_reboot = REBOOT_EXIT;
			else
				return cli_fail(err, errlen,
						"--on-reboot '%s': expected "
						"'restart' or 'exit'",
						optarg);
			break;
		case OPT_DEBUG_EXIT:
			vm->debug_exit = true;
			break;
		case OPT_VCPU_AFFINITY:
			rc = parse_affinity(optarg, vm, err, errlen);
			if (rc)
				return rc;
			break;
		case OPT_DISK:
			if (vm->nr_disks == CONFIG_MAX_DISKS)
				return cli_fail(err, errlen,
						"--disk: at most %d disks",
						CONFIG_MAX_DISKS);
			rc = devopts_parse_disk("--disk", optarg,
						&vm->disks[vm->nr_disks], err,
						errlen);
			if (rc)
				return rc;
			vm->nr_disks++;
			break;
		case OPT_NET:
			if (vm->nr_nets == CONFIG_MAX_NETS)
				return cli_fail(err, errlen,
						"--net: at most %d interfaces",
						CONFIG_MAX_NETS);
			rc = devopts_parse_net("--net", optarg, vm->nr_nets,
					       &vm->nets[vm->nr_nets], err,
					       errlen);
			if (rc)
				return rc;
			vm->nr_nets++;
			break;
		case OPT_CONSOLE:
			rc = devopts_parse_console("--console", optarg,
						   &vm->console, err, errlen);
			if (rc)
				return rc;
			break;
		case OPT_RNG:
			rc = devopts_parse_rng("--rng", optarg, &vm->rng_rate,
					       err, errlen);
			if (rc)
				return rc;
			break;
		case OPT_API_SOCKET:
			rc = parse_socket_path("--api-socket", optarg,
					       &cli->api_socket, err, errlen);
			if (rc)
				return rc;
			break;
		case OPT_CONSOLE_SOCKET:
			rc = parse_socket_path("--console-socket", optarg,
					       &cli->console_socket, err,
					       errlen);
			if (rc)
				return rc;
			break;
		case OPT_CONSOLE_HISTORY:
			rc = parse_history(optarg, &cli->console_history, err,
					   errlen);
			if (rc)
				return rc;
			history_given = true;
			break;
		case OPT_STATUS_FILE:
			if (!*optarg)
				return cli_fail(err, errlen,
						"--status-file: empty path");
			cli->status_file = optarg;
			break;
		case 'v':
			cli->verbosity++;
			break;
		case 'h':
			cli->command = CLI_HELP;
			return 0;
		case ':':
			return cli_fail(err, errlen,
					"option '%s' needs a value",
					argv[optind - 1]);
		default:
			return bad_option(argv, err, errlen);
		}
	}
	if (optind < argc)
		return cli_fail(err, errlen,
				"unexpected argument '%s' (see 'mica run "
				"--help')",
				argv[optind]);
	if (!vm->kernel)
		return cli_fail(err, errlen,
				"--kernel is required: the kernel to boot");
	if (!cmdline_given && vm->console == CONSOLE_VIRTIO)
		vm->cmdline = CLI_DEFAULT_CMDLINE_VIRTIO;
	rc = check_devices(vm, err, errlen);
	if (rc)
		return rc;
	if (history_given && !cli->console_socket)
		return cli_fail(err, errlen,
				"--console-history is for --console-socket "
				"(the terminal keeps no history)");
	if (cli->api_socket && cli->console_socket &&
	    !strcmp(cli->api_socket, cli->console_socket))
		return cli_fail(err, errlen,
				"--api-socket and --console-socket are the "
				"same path '%s'",
				cli->api_socket);
	if (!*vm->kernel)
		return cli_fail(err, errlen, "--kernel: empty path");
	if (vm->initrd && !*vm->initrd)
		return cli_fail(err, errlen, "--initrd: empty path");
	if (strlen(vm->cmdline) > LAYOUT_CMDLINE_MAX - 1)
		return cli_fail(err, errlen,
				"--cmdline is %zu bytes; at most %llu are "
				"accepted",
				strlen(vm->cmdline), LAYOUT_CMDLINE_MAX - 1);
	return 0;
}

int cli_parse(int argc, char **argv, struct cli *cli, char *err, size_t errlen)
{
	memset(cli, 0, sizeof(*cli));
	cli->command = CLI_RUN;
	cli->vm.cmdline = CLI_DEFAULT_CMDLINE;
	cli->vm.cpus = 1;
	cli->vm.memory = CLI_DEFAULT_MEMORY;
	cli->vm.on_reboot = REBOOT_RESTART;
	cli->console_history = CLI_DEFAULT_CONSOLE_HISTORY;

	if (argc < 2)
		return cli_fail(err, errlen,
				"no command given (try 'mica --help')");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		cli->command = CLI_HELP;
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		cli->command = CLI_VERSION;
		return 0;
	}
	if (strcmp(argv[1], "run"))
		return cli_fail(err, errlen,
				"unknown command '%s' (try 'mica --help')",
				argv[1]);
	return parse_run(argc - 1, argv + 1, cli, err, errlen);
}
