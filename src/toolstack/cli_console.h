/* SPDX-License-Identifier: MIT */
/*
 * "mica console": a domain's console socket (docs/api-vmm.md) relayed to
 * this terminal, or to stdin/stdout when they are pipes.
 *
 * On a terminal: raw mode (restored on every way out, signals included),
 * every key goes to the guest (Ctrl-C too) except Ctrl-] which detaches.
 * With stdin not a terminal: no raw mode and no escape key; EOF on stdin
 * detaches after relaying the output for CLI_CONSOLE_DRAIN_MS more, so
 * "echo cmd | mica console dom" shows the history and the answer. The
 * guest keeps running either way; closing the socket only detaches.
 */
#ifndef MICA_TOOLSTACK_CLI_CONSOLE_H
#define MICA_TOOLSTACK_CLI_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CLI_CONSOLE_ESCAPE 0x1d /* Ctrl-] */
#define CLI_CONSOLE_DRAIN_MS 1000

enum cli_console_end {
	CLI_CONSOLE_DETACHED, /* Ctrl-] */
	CLI_CONSOLE_INPUT_EOF, /* stdin ended (and the drain time passed) */
	CLI_CONSOLE_CLOSED, /* the VMM closed the socket: it stopped, or
			     * another client took the console over */
	CLI_CONSOLE_SIGNAL, /* SIGTERM, SIGHUP, SIGINT when not raw */
};

/* Connects to a console socket; returns the fd or -errno with err set. */
int cli_console_connect(const char *path, char *err, size_t errlen);

/*
 * Relays in_fd -> sock and sock -> out_fd until one of the ends above,
 * which it returns (or -errno with err set). escape: Ctrl-] in the input
 * detaches (bytes before it are still sent). drain_ms: after EOF on in_fd,
 * how long output is still relayed.
 */
int cli_console_relay(int in_fd, int out_fd, int sock, bool escape,
		      int drain_ms, char *err, size_t errlen);

/*
 * The whole verb once micad named the socket: connect, raw mode if stdin
 * is a terminal, a hint on errf, relay, restore. Returns the exit status.
 */
int cli_console_attach(const char *domain, const char *socket_path, FILE *errf);

#endif
