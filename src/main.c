// SPDX-License-Identifier: MIT
/*
 * mica: argv -> config -> VM -> run. The only place that exits.
 *
 * The main thread owns the event loop (console input, signals, the VM's stop
 * event). A guest reset tears the VM down and builds it again from the same
 * configuration, unless --on-reboot exit asks mica to end instead.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "backends/stdio.h"
#include "config/cli.h"
#include "util/log.h"
#include "util/loop.h"
#include "vm/vcpu.h"
#include "vm/vm.h"

#define MICA_VERSION "0.1.0"

struct session {
	struct loop loop;
	struct stdio_chardev console;
	struct vm vm;
	bool vm_live;
	int signal_fd;
	int stop_signal; /* SIGTERM etc. that ended the session, or 0 */
	bool user_quit;
};

static void on_vm_stop(void *opaque, uint32_t events)
{
	struct session *s = opaque;

	(void)events;
	event_drain(s->vm.stop_event);
	loop_quit(&s->loop);
}

static void on_signal(void *opaque, uint32_t events)
{
	struct session *s = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(s->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	s->stop_signal = (int)si.ssi_signo;
	if (s->vm_live)
		vm_request_stop(&s->vm, VM_STOP_USER, 0);
	loop_quit(&s->loop);
}

static void on_quit_key(void *opaque)
{
	struct session *s = opaque;

	s->user_quit = true;
	if (s->vm_live)
		vm_request_stop(&s->vm, VM_STOP_USER, 0);
	loop_quit(&s->loop);
}

/* Blocks the signals handled through signalfd, in every thread to come. */
static int setup_signals(struct session *s)
{
	sigset_t set;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	rc = vcpu_install_kick_handler();
	if (rc)
		return rc;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, VCPU_KICK_SIGNAL); /* unblocked in vCPU threads only */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -EINVAL;
	sigdelset(&set, VCPU_KICK_SIGNAL);
	s->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->signal_fd < 0)
		return -errno;
	return loop_add(&s->loop, s->signal_fd, EPOLLIN, on_signal, s);
}

/* Runs VMs until one ends for good; returns mica's exit status. */
static int run(struct session *s, const struct vm_config *cfg)
{
	char err[512];
	int rc;

	for (;;) {
		enum vm_stop stop;
		int code;

		rc = vm_create(&s->vm, cfg, &s->console.chr, err, sizeof(err));
		if (rc) {
			log_err("%s", err);
			return MICA_EXIT_ERROR;
		}
		s->vm_live = true;
		/* Input held while no UART was attached goes to the new one. */
		chardev_rx_ready(&s->console.chr);
		rc = loop_add(&s->loop, s->vm.stop_event, EPOLLIN, on_vm_stop,
			      s);
		if (!rc)
			rc = vm_start(&s->vm, err, sizeof(err));
		else
			snprintf(err, sizeof(err), "event loop: %s",
				 strerror(-rc));
		if (!rc && !s->stop_signal && !s->user_quit)
			rc = loop_run(&s->loop);
		vm_join(&s->vm);
		loop_del(&s->loop, s->vm.stop_event);
		stop = s->vm.stop;
		code = s->vm.stop_code;
		s->vm_live = false;
		vm_destroy(&s->vm);
		if (rc) {
			log_err("%s", err);
			return MICA_EXIT_ERROR;
		}
		if (s->stop_signal)
			return MICA_EXIT_SIGNAL;
		if (s->user_quit)
			return MICA_EXIT_POWEROFF;
		switch (stop) {
		case VM_STOP_POWEROFF:
			log_info("guest powered off");
			return MICA_EXIT_POWEROFF;
		case VM_STOP_RESET:
			if (cfg->on_reboot == REBOOT_EXIT) {
				log_info("guest rebooted; exiting as asked");
				return MICA_EXIT_REBOOT;
			}
			log_info("guest rebooted; restarting it");
			continue;
		case VM_STOP_DEBUG_EXIT:
			return code;
		case VM_STOP_CRASH:
			return MICA_EXIT_CRASH;
		case VM_STOP_HOST_ERROR:
		case VM_STOP_NONE:
		case VM_STOP_USER:
			return MICA_EXIT_ERROR;
		}
		return MICA_EXIT_ERROR;
	}
}

int main(int argc, char **argv)
{
	static struct session s = { .signal_fd = -1 };
	struct cli cli;
	char err[512];
	int rc, status;

	rc = cli_parse(argc, argv, &cli, err, sizeof(err));
	if (rc) {
		log_err("%s", err);
		return MICA_EXIT_ERROR;
	}
	if (cli.command == CLI_HELP) {
		fputs(cli_usage, stdout);
		return 0;
	}
	if (cli.command == CLI_VERSION) {
		printf("mica %s\n", MICA_VERSION);
		return 0;
	}
	if (cli.verbosity >= 2)
		log_threshold = LOG_DEBUG;
	else if (cli.verbosity == 1)
		log_threshold = LOG_INFO;

	rc = loop_init(&s.loop);
	if (!rc)
		rc = setup_signals(&s);
	if (rc) {
		log_err("setting up the event loop: %s", strerror(-rc));
		return MICA_EXIT_ERROR;
	}
	rc = stdio_chardev_open(&s.console, &s.loop, on_quit_key, &s);
	if (rc) {
		log_err("setting up the console: %s", strerror(-rc));
		stdio_restore_terminal();
		return MICA_EXIT_ERROR;
	}
	status = run(&s, &cli.vm);
	stdio_chardev_close(&s.console);
	loop_destroy(&s.loop);
	return status;
}
