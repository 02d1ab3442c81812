// SPDX-License-Identifier: MIT
/*
 * mica: argv -> config -> VM -> run. The only place that exits.
 *
 * The main thread owns the event loop (console input, signals, the VM's stop
 * event, and with --api-socket the control API). A guest reset tears the VM
 * down and builds it again from the same configuration, unless --on-reboot
 * exit asks mica to end instead.
 *
 * The console is the terminal (backends/stdio.c), or with --console-socket
 * a UNIX socket with a history ring (backends/socket.c). The control API
 * (control/api.c) acts on the VM through api_ops below, on this thread, and
 * only while a VM is live.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "backends/socket.h"
#include "backends/stdio.h"
#include "config/cli.h"
#include "control/api.h"
#include "toolstack/cli_verbs.h"
#include "util/log.h"
#include "util/loop.h"
#include "vm/vcpu.h"
#include "vm/vm.h"

#define MICA_VERSION "0.1.0"

struct session {
	struct loop loop;
	struct stdio_chardev console;
	struct socket_chardev console_socket;
	struct chardev *chr; /* the console backend in use */
	struct api_server api;
	bool api_open;
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

/* ---- the control API's view of the VM (control/api.h) ---- */

static int api_info(void *opaque, struct api_vm_info *out)
{
	struct session *s = opaque;
	const struct vm_config *cfg = s->vm.cfg;

	if (!s->vm_live)
		return -ESRCH;
	*out = (struct api_vm_info){
		.state = vm_is_paused(&s->vm) ? API_VM_PAUSED : API_VM_RUNNING,
		.pid = (long)getpid(),
		.vcpus = cfg->cpus,
		.memory_mib = cfg->memory >> 20,
		.uptime_ms = vm_uptime_ns(&s->vm) / 1000000,
		.console = cfg->console == CONSOLE_VIRTIO ? "virtio" : "serial",
	};
	return 0;
}

static int api_pause(void *opaque)
{
	struct session *s = opaque;

	return s->vm_live ? vm_pause(&s->vm) : -ESRCH;
}

static int api_resume(void *opaque)
{
	struct session *s = opaque;

	return s->vm_live ? vm_resume(&s->vm) : -ESRCH;
}

static int api_power_button(void *opaque)
{
	struct session *s = opaque;

	return s->vm_live ? vm_power_button(&s->vm) : -ESRCH;
}

/* As the guest's own reset: run() then honours --on-reboot. */
static int api_reboot(void *opaque)
{
	struct session *s = opaque;

	if (!s->vm_live || atomic_load(&s->vm.stopping))
		return -ESRCH;
	vm_request_stop(&s->vm, VM_STOP_RESET, 0);
	return 0;
}

static int api_stop(void *opaque)
{
	struct session *s = opaque;

	if (!s->vm_live)
		return -ESRCH;
	on_quit_key(s); /* as Ctrl-A x: status 0, even over a reboot */
	return 0;
}

static int api_stats(void *opaque, struct vm_stats *out)
{
	struct session *s = opaque;

	if (!s->vm_live)
		return -ESRCH;
	vm_get_stats(&s->vm, out);
	return 0;
}

static const struct api_ops session_api_ops = {
	.info = api_info,
	.pause = api_pause,
	.resume = api_resume,
	.power_button = api_power_button,
	.reboot = api_reboot,
	.stop = api_stop,
	.stats = api_stats,
};

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

/*
 * --status-file: how this mica ended, for a toolstack that is not its
 * parent (micad after a restart watches it with a pidfd and cannot wait for
 * it). Written to a temporary name, synced and renamed, so a reader sees
 * the whole file or none. A mica killed by SIGKILL writes nothing.
 */
static void write_status_file(const char *path, int status, bool user_quit)
{
	static const char *const reasons[] = {
		[MICA_EXIT_POWEROFF] = "poweroff", [MICA_EXIT_ERROR] = "error",
		[MICA_EXIT_REBOOT] = "reboot",	   [MICA_EXIT_CRASH] = "crash",
		[MICA_EXIT_SIGNAL] = "signal",
	};
	const char *reason = "error";
	char tmp[4096 + 16], text[96];
	int fd, n;

	if (status >= 0 && status <= MICA_EXIT_SIGNAL)
		reason = reasons[status];
	if (status == MICA_EXIT_POWEROFF && user_quit)
		reason = "stop";
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		log_err("--status-file '%s': path too long", path);
		return;
	}
	n = snprintf(text, sizeof(text), "{\"status\":%d,\"reason\":\"%s\"}\n",
		     status, reason);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	if (write(fd, text, (size_t)n) != n || fsync(fd)) {
		close(fd);
		goto fail_unlink;
	}
	if (close(fd) || rename(tmp, path))
		goto fail_unlink;
	return;

fail_unlink:
	n = errno;
	unlink(tmp);
	errno = n;
fail:
	log_err("--status-file '%s': %s", path, strerror(errno));
}

/* Runs VMs until one ends for good; returns mica's exit status. */
static int run(struct session *s, const struct vm_config *cfg)
{
	char err[512];
	int rc;

	for (;;) {
		enum vm_stop stop;
		int code;

		rc = vm_create(&s->vm, cfg, s->chr, err, sizeof(err));
		if (rc) {
			log_err("%s", err);
			return MICA_EXIT_ERROR;
		}
		s->vm_live = true;
		/* Input held while no UART was attached goes to the new one. */
		chardev_rx_ready(s->chr);
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

	/* create, list, console...: the toolstack CLI, a client of micad */
	if (cli_verbs_handles(argc, argv))
		return cli_verbs_run(argc, argv, stdout, stderr);
	rc = cli_parse(argc, argv, &cli, err, sizeof(err));
	if (rc) {
		log_err("%s", err);
		return MICA_EXIT_ERROR;
	}
	if (cli.command == CLI_HELP) {
		fputs(cli_usage, stdout);
		fputs(cli_verbs_usage, stdout);
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
	if (cli.console_socket) {
		rc = socket_chardev_open(&s.console_socket, &s.loop,
					 cli.console_socket,
					 (size_t)cli.console_history, err,
					 sizeof(err));
		if (rc) {
			log_err("%s", err);
			return MICA_EXIT_ERROR;
		}
		s.chr = &s.console_socket.chr;
	} else {
		rc = stdio_chardev_open(&s.console, &s.loop, on_quit_key, &s);
		if (rc) {
			log_err("setting up the console: %s", strerror(-rc));
			stdio_restore_terminal();
			return MICA_EXIT_ERROR;
		}
		s.chr = &s.console.chr;
	}
	status = MICA_EXIT_ERROR;
	if (cli.api_socket) {
		rc = api_server_open(&s.api, &s.loop, cli.api_socket,
				     &session_api_ops, &s, err, sizeof(err));
		if (rc)
			log_err("%s", err);
		s.api_open = !rc;
	}
	if (!cli.api_socket || s.api_open)
		status = run(&s, &cli.vm);
	/* Replies to the last requests (stop, reboot) go out first. */
	if (s.api_open)
		api_server_close(&s.api);
	if (cli.console_socket)
		socket_chardev_close(&s.console_socket);
	else
		stdio_chardev_close(&s.console);
	loop_destroy(&s.loop);
	if (cli.status_file)
		write_status_file(cli.status_file, status, s.user_quit);
	return status;
}
