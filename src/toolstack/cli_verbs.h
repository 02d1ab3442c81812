/* SPDX-License-Identifier: MIT */
/*
 * The mica CLI verbs that talk to micad (docs/cli.md): create, list, info,
 * console, pause, unpause, shutdown, reboot, destroy, top. "mica run" (the
 * VMM itself) is src/main.c and src/config/cli.c; main() hands argv here
 * when cli_verbs_handles() says so.
 */
#ifndef MICA_TOOLSTACK_CLI_VERBS_H
#define MICA_TOOLSTACK_CLI_VERBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "toolstack/domcfg.h"

/* For "mica --help": the verbs, after cli_usage. */
extern const char cli_verbs_usage[];

/* True if argv[1] is one of the verbs above, or --socket before one. */
bool cli_verbs_handles(int argc, char **argv);

/*
 * Runs "mica VERB ...": argv[0] is "mica", argv[1] the verb (or
 * --socket PATH first). Output goes to out, messages to err. Returns the
 * exit status: 0 done, 1 error (a message on err naming the domain or file
 * and the reason).
 */
int cli_verbs_run(int argc, char **argv, FILE *out, FILE *err);

/*
 * Makes cfg's kernel, ramdisk and disk paths absolute against cwd (the
 * CLI's working directory: micad runs elsewhere). Returns 0, or
 * -ENAMETOOLONG/-ENOMEM with err naming the path.
 */
int cli_verbs_absolute_paths(struct domain_config *cfg, const char *cwd,
			     char *err, size_t errlen);

#endif
