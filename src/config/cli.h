/* SPDX-License-Identifier: MIT */
/* The mica command line: sub-command and options -> struct vm_config. */
#ifndef MICA_CONFIG_CLI_H
#define MICA_CONFIG_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

enum cli_command {
	CLI_RUN,
	CLI_HELP, /* usage was asked for: print it, exit 0 */
	CLI_VERSION,
};

struct cli {
	enum cli_command command;
	struct vm_config vm;
	int verbosity; /* -v: info, -vv: debug */
	/* The process around the VM (docs/api-vmm.md). */
	const char *api_socket; /* --api-socket PATH, or NULL */
	const char *console_socket; /* --console-socket PATH, or NULL: stdio */
	uint64_t console_history; /* --console-history, bytes */
	const char *status_file; /* --status-file PATH, or NULL */
};

#define CLI_DEFAULT_CMDLINE "console=ttyS0"
#define CLI_DEFAULT_CMDLINE_VIRTIO "console=hvc0"
#define CLI_DEFAULT_MEMORY (512ull << 20)
#define CLI_DEFAULT_CONSOLE_HISTORY (64ull << 10)
#define CLI_MIN_CONSOLE_HISTORY (4ull << 10)
#define CLI_MAX_CONSOLE_HISTORY (16ull << 20)

/*
 * Parses argv. Returns 0, or -EINVAL with a message in err that names the
 * option or argument and the reason.
 */
int cli_parse(int argc, char **argv, struct cli *cli, char *err, size_t errlen);

extern const char cli_usage[];

#endif
