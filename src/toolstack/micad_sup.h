/* SPDX-License-Identifier: MIT */
/*
 * micad's supervisor: runs each domain as its own `mica run` process,
 * watches it (a pidfd per VMM), talks to its control API
 * (docs/api-vmm.md), applies the lifecycle policies (on_poweroff,
 * on_reboot, on_crash), the shutdown timeouts and the restart limit, and
 * re-attaches to the VMMs still running when micad starts again.
 *
 * Every VMM is started with fork+exec in a session of its own (setsid), so
 * it outlives micad; its stdout/stderr go to RUN/NAME.log (truncated at
 * each start), and at exit it writes RUN/NAME.status (mica run
 * --status-file), which is how a micad that is not its parent any more
 * learns why it ended. A VMM that ended without a status file was killed
 * (SIGKILL): it crashed.
 *
 * Exit statuses of mica run and what micad makes of them:
 *   0 power-off (or stopped through its API)  -> on_poweroff
 *   2 reboot (micad passes --on-reboot exit)  -> on_reboot
 *   3 crash (triple fault, KVM error)         -> on_crash
 *   4 stopped by SIGTERM/SIGINT/SIGHUP        -> on_poweroff
 *   1 error, or killed by a signal            -> on_crash
 * A domain that is restarted more than MICAD_RESTART_MAX times within
 * MICAD_RESTART_WINDOW_S seconds is kept as "crashed" instead (event
 * "restart-limit"), so a crash-looping guest cannot spin the host; restarts
 * after the first in a window wait 1, 2, 4, 8 s.
 */
#ifndef MICA_TOOLSTACK_MICAD_SUP_H
#define MICA_TOOLSTACK_MICAD_SUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "toolstack/domcfg.h"
#include "toolstack/micad_api.h"
#include "toolstack/micad_loop.h"
#include "toolstack/micad_state.h"

#define MICAD_RESTART_MAX 5
#define MICAD_RESTART_WINDOW_S 60
#define MICAD_KILL_GRACE_MS 5000 /* SIGTERM, then SIGKILL */
#define MICAD_START_WAIT_MS 5000 /* for a new VMM's API socket */
#define MICAD_VMM_TIMEOUT_MS 3000 /* one call to a VMM's API */

struct micad_sup_opts {
	const char *run_dir; /* per-domain sockets, logs, status files */
	const char *mica; /* the mica binary */
	uint64_t console_history; /* bytes, for --console-history */
};

struct micad_dom;

struct micad_sup {
	struct micad_loop *loop;
	struct micad_db *db;
	struct micad_sup_opts opts;
	struct micad_dom *doms; /* sorted by name */
	struct micad_watch tick_w; /* timerfd: deadlines and restarts */
};

/* Returns 0, or -errno with a message in err. */
int micad_sup_init(struct micad_sup *sup, struct micad_loop *loop,
		   struct micad_db *db, const struct micad_sup_opts *opts,
		   char *err, size_t errlen);
/*
 * Loads the domains from the database: re-attaches to VMMs still running
 * (same pid, same process start time), records how the others ended and
 * applies their policies, then starts autostart domains not running.
 */
int micad_sup_recover(struct micad_sup *sup);
/* Forgets the domains; the VMMs keep running. */
void micad_sup_fini(struct micad_sup *sup);

extern const struct micad_ops micad_sup_ops;

#endif
