// SPDX-License-Identifier: MIT
/*
 * Output of the mica CLI verbs (cli_format.h): tables and pages built from
 * micad's JSON replies. Every field is checked for type; anything missing
 * or odd prints as "-" rather than failing the whole listing. Strings from
 * the reply are printed with control characters replaced, so a domain name
 * or an event detail cannot drive the user's terminal.
 */
#include "toolstack/cli_format.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#define NAME_COL_MIN 4
#define NAME_COL_MAX 40

/* A string field, made safe for a terminal, or "-". */
static const char *field_str(const json_t *o, const char *key, char *buf,
			     size_t len)
{
	const char *s = json_string_value(json_object_get(o, key));
	size_t i;

	if (!s || !*s)
		return "-";
	snprintf(buf, len, "%s", s);
	for (i = 0; buf[i]; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	return buf;
}

/* An integer field as text, or "-" (absent, null, negative or 0 pid). */
static const char *field_int(const json_t *o, const char *key, char *buf,
			     size_t len, bool zero_is_none)
{
	const json_t *v = json_object_get(o, key);
	json_int_t n;

	if (!json_is_integer(v))
		return "-";
	n = json_integer_value(v);
	if (n < 0 || (zero_is_none && n == 0))
		return "-";
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT, n);
	return buf;
}

static uint64_t field_u64(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v) && json_integer_value(v) > 0)
		return (uint64_t)json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) > 0 &&
	    json_real_value(v) < 1.8e19)
		return (uint64_t)json_real_value(v);
	return 0;
}

static bool state_is_live(const char *state)
{
	return !strcmp(state, "running") || !strcmp(state, "paused") ||
	       !strcmp(state, "shutting-down");
}

long long cli_format_parse_time(const json_t *j)
{
	int y, mo, d, h, mi, s, n = 0, zh, zm;
	const char *p = json_string_value(j);
	struct tm tm;
	long long t;

	if (json_is_integer(j))
		return json_integer_value(j) >= 0 ? json_integer_value(j) : -1;
	if (!p ||
	    sscanf(p, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s,
		   &n) != 6 ||
	    !n)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    s > 60 || y < 1970)
		return -1;
	tm = (struct tm){
		.tm_year = y - 1900,
		.tm_mon = mo - 1,
		.tm_mday = d,
		.tm_hour = h,
		.tm_min = mi,
		.tm_sec = s,
	};
	t = (long long)timegm(&tm);
	p += n;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p == 'Z' || *p == 'z')
		return p[1] ? -1 : t;
	if ((*p == '+' || *p == '-') &&
	    sscanf(p + 1, "%2d:%2d", &zh, &zm) == 2 && strlen(p) == 6) {
		long long off = (long long)zh * 3600 + zm * 60;

		return *p == '+' ? t - off : t + off;
	}
	return -1;
}

void cli_format_list(FILE *f, const json_t *reply, time_t now)
{
	const json_t *domains = json_object_get(reply, "domains"), *d;
	char name[NAME_COL_MAX + 1], state[32], pid[24], mem[24], cpus[24];
	char up[32];
	int width = NAME_COL_MIN;
	size_t i;

	json_array_foreach(domains, i, d)
	{
		const char *s = json_string_value(json_object_get(d, "name"));
		int len = s ? (int)strlen(s) : 0;

		if (len > width)
			width = len > NAME_COL_MAX ? NAME_COL_MAX : len;
	}
	fprintf(f, "%-*s %7s %6s %5s %-13s %9s\n", width, "Name", "ID", "Mem",
		"VCPUs", "State", "Time(s)");
	json_array_foreach(domains, i, d)
	{
		const char *st;
		long long started;

		if (!json_is_object(d))
			continue;
		st = field_str(d, "state", state, sizeof(state));
		started = cli_format_parse_time(json_object_get(d, "started"));
		if (state_is_live(st) && started >= 0 && now >= started)
			snprintf(up, sizeof(up), "%lld",
				 (long long)now - started);
		else
			snprintf(up, sizeof(up), "-");
		fprintf(f, "%-*s %7s %6s %5s %-13s %9s\n", width,
			field_str(d, "name", name, sizeof(name)),
			field_int(d, "pid", pid, sizeof(pid), true),
			field_int(d, "memory_mib", mem, sizeof(mem), false),
			field_int(d, "vcpus", cpus, sizeof(cpus), false), st,
			up);
	}
}

static void print_kv(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%-14s%s\n", key, value);
}

/* A config value of any scalar type, or an array joined one per line. */
static void print_cfg(FILE *f, const json_t *cfg, const char *key,
		      const char *label)
{
	const json_t *v = json_object_get(cfg, key), *e;
	char buf[512];
	size_t i;

	if (!v)
		return;
	if (json_is_array(v)) {
		if (!json_array_size(v))
			return;
		json_array_foreach(v, i, e)
		{
			json_t *tmp = json_pack("{sO}", "v", e);

			fprintf(f, "  %-12s%s\n", i ? "" : label,
				field_str(tmp, "v", buf, sizeof(buf)));
			json_decref(tmp);
		}
		return;
	}
	if (json_is_string(v))
		field_str(cfg, key, buf, sizeof(buf));
	else if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, sizeof(buf), "%s",
			 json_is_true(v) ? "yes" : "no");
	else
		snprintf(buf, sizeof(buf), "-");
	fprintf(f, "  %-12s%s\n", label, buf);
}

void cli_format_info(FILE *f, const json_t *d, time_t now)
{
	const json_t *cfg = json_object_get(d, "config");
	const json_t *events = json_object_get(d, "events"), *e;
	char buf[512], mem[32];
	const char *st;
	long long started;
	size_t i;

	print_kv(f, "Name:", field_str(d, "name", buf, sizeof(buf)));
	print_kv(f, "UUID:", field_str(d, "uuid", buf, sizeof(buf)));
	st = field_str(d, "state", buf, sizeof(buf));
	print_kv(f, "State:", st);
	started = cli_format_parse_time(json_object_get(d, "started"));
	if (state_is_live(st) && started >= 0 && now >= started) {
		snprintf(buf, sizeof(buf), "%lld s", (long long)now - started);
		print_kv(f, "Uptime:", buf);
	}
	print_kv(f, "PID:", field_int(d, "pid", buf, sizeof(buf), true));
	print_kv(f, "VCPUs:", field_int(d, "vcpus", buf, sizeof(buf), false));
	snprintf(mem, sizeof(mem), "%s MiB",
		 field_int(d, "memory_mib", buf, sizeof(buf), false));
	print_kv(f, "Memory:", mem);
	print_kv(f, "Autostart:",
		 json_is_true(json_object_get(d, "autostart")) ? "yes" : "no");
	print_kv(f, "Created:", field_str(d, "created", buf, sizeof(buf)));
	print_kv(f, "Started:", field_str(d, "started", buf, sizeof(buf)));
	print_kv(f,
		 "Console:", field_str(d, "console_socket", buf, sizeof(buf)));
	if (json_is_object(cfg)) {
		fprintf(f, "Config:\n");
		print_cfg(f, cfg, "kernel", "kernel");
		print_cfg(f, cfg, "ramdisk", "ramdisk");
		print_cfg(f, cfg, "cmdline", "cmdline");
		print_cfg(f, cfg, "disk", "disk");
		print_cfg(f, cfg, "vif", "vif");
		print_cfg(f, cfg, "console", "console");
		print_cfg(f, cfg, "rng", "rng");
		print_cfg(f, cfg, "on_poweroff", "on_poweroff");
		print_cfg(f, cfg, "on_reboot", "on_reboot");
		print_cfg(f, cfg, "on_crash", "on_crash");
	}
	if (json_is_array(events) && json_array_size(events)) {
		char t[64], kind[64];

		fprintf(f, "Recent events:\n");
		json_array_foreach(events, i, e)
		{
			const char *detail;

			if (!json_is_object(e))
				continue;
			detail = field_str(e, "detail", buf, sizeof(buf));
			fprintf(f, "  %-25s %-20s %s\n",
				field_str(e, "time", t, sizeof(t)),
				field_str(e, "kind", kind, sizeof(kind)),
				strcmp(detail, "-") ? detail : "");
		}
	}
}

int cli_format_json(FILE *f, const json_t *j)
{
	if (json_dumpf(j, f, JSON_INDENT(2) | JSON_SORT_KEYS))
		return -1;
	fputc('\n', f);
	return 0;
}

void cli_format_bytes(char *buf, size_t len, double bytes)
{
	static const char units[] = "BKMGTP";
	unsigned int u = 0;

	if (!(bytes >= 0)) /* NaN, negative */
		bytes = 0;
	while (bytes >= 1024 && u + 1 < sizeof(units) - 1) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0fB", bytes);
	else if (bytes < 10)
		snprintf(buf, len, "%.1f%c", bytes, units[u]);
	else
		snprintf(buf, len, "%.0f%c", bytes, units[u]);
}

static uint64_t sum_field(const json_t *array, const char *key)
{
	const json_t *e;
	uint64_t total = 0;
	size_t i;

	json_array_foreach(array, i, e) total += field_u64(e, key);
	return total;
}

void cli_top_sample_fill(struct cli_top_sample *s, const json_t *domain,
			 const json_t *stats)
{
	const json_t *v;
	char buf[64];

	*s = (struct cli_top_sample){ .cpu_percent = -1 };
	snprintf(s->name, sizeof(s->name), "%s",
		 field_str(domain, "name", buf, sizeof(buf)));
	snprintf(s->state, sizeof(s->state), "%s",
		 field_str(domain, "state", buf, sizeof(buf)));
	if (!json_is_object(stats))
		return;
	s->has_stats = true;
	v = json_object_get(stats, "cpu_percent");
	if (json_is_number(v) && json_number_value(v) >= 0)
		s->cpu_percent = json_number_value(v);
	s->rss_bytes = field_u64(stats, "rss_bytes");
	if (json_is_number(json_object_get(stats, "exits")))
		s->exits = field_u64(stats, "exits");
	else
		s->exits = sum_field(json_object_get(stats, "vcpus"), "exits");
	v = json_object_get(stats, "disks");
	s->disk_read = sum_field(v, "read_bytes");
	s->disk_write = sum_field(v, "write_bytes");
	v = json_object_get(stats, "nets");
	s->net_rx = sum_field(v, "rx_bytes");
	s->net_tx = sum_field(v, "tx_bytes");
}

static bool rate(uint64_t prev, uint64_t cur, double dt, double *out)
{
	if (cur < prev)
		return false;
	*out = (double)(cur - prev) / dt;
	return true;
}

void cli_top_rates(const struct cli_top_sample *prev,
		   const struct cli_top_sample *cur, double dt,
		   struct cli_top_rates *out)
{
	*out = (struct cli_top_rates){ 0 };
	if (!prev || !prev->has_stats || !cur->has_stats || !(dt > 0))
		return;
	out->valid =
		rate(prev->exits, cur->exits, dt, &out->exits) &&
		rate(prev->disk_read, cur->disk_read, dt, &out->disk_read) &&
		rate(prev->disk_write, cur->disk_write, dt, &out->disk_write) &&
		rate(prev->net_rx, cur->net_rx, dt, &out->net_rx) &&
		rate(prev->net_tx, cur->net_tx, dt, &out->net_tx);
	if (!out->valid)
		*out = (struct cli_top_rates){ 0 };
}

void cli_format_top_header(FILE *f)
{
	fprintf(f, "%-20s %-13s %6s %7s %9s %8s %8s %8s %8s\n", "NAME", "STATE",
		"CPU%", "MEM", "EXITS/s", "DISK-RD", "DISK-WR", "NET-RX",
		"NET-TX");
}

void cli_format_top_row(FILE *f, const struct cli_top_sample *s,
			const struct cli_top_rates *r)
{
	char cpu[16] = "-", mem[16] = "-", ex[24] = "-", rd[16] = "-",
	     wr[16] = "-", rx[16] = "-", tx[16] = "-";

	if (s->has_stats) {
		if (s->cpu_percent >= 0)
			snprintf(cpu, sizeof(cpu), "%.1f", s->cpu_percent);
		cli_format_bytes(mem, sizeof(mem), (double)s->rss_bytes);
	}
	if (r && r->valid) {
		snprintf(ex, sizeof(ex), "%.0f", r->exits);
		cli_format_bytes(rd, sizeof(rd), r->disk_read);
		cli_format_bytes(wr, sizeof(wr), r->disk_write);
		cli_format_bytes(rx, sizeof(rx), r->net_rx);
		cli_format_bytes(tx, sizeof(tx), r->net_tx);
	}
	fprintf(f, "%-20s %-13s %6s %7s %9s %8s %8s %8s %8s\n", s->name,
		s->state, cpu, mem, ex, rd, wr, rx, tx);
}

/* One decimal: JSON lines stay short; no libm needed. */
static double round1(double v)
{
	return v >= 0 ? (double)(long long)(v * 10 + 0.5) / 10 : 0;
}

static json_t *rate_json(bool valid, double v)
{
	return valid ? json_real(round1(v)) : json_null();
}

int cli_format_top_json(json_t *array, const struct cli_top_sample *s,
			const struct cli_top_rates *r)
{
	bool v = r && r->valid;
	json_t *o;

	o = json_pack(
		"{ss ss so so so so so so so so so}", "name", s->name, "state",
		s->state, "cpu_percent",
		s->has_stats && s->cpu_percent >= 0 ?
			json_real(round1(s->cpu_percent)) :
			json_null(),
		"rss_bytes",
		s->has_stats ? json_integer((json_int_t)s->rss_bytes) :
			       json_null(),
		"exits",
		s->has_stats ? json_integer((json_int_t)s->exits) : json_null(),
		"exits_per_s", rate_json(v, v ? r->exits : 0),
		"disk_read_bytes_per_s", rate_json(v, v ? r->disk_read : 0),
		"disk_write_bytes_per_s", rate_json(v, v ? r->disk_write : 0),
		"net_rx_bytes_per_s", rate_json(v, v ? r->net_rx : 0),
		"net_tx_bytes_per_s", rate_json(v, v ? r->net_tx : 0),
		"has_stats", json_boolean(s->has_stats));
	if (!o)
		return -1;
	return json_array_append_new(array, o);
}
