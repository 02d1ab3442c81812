/* SPDX-License-Identifier: MIT */
/*
 * How the mica CLI shows micad's replies: the "mica list" table, the
 * "mica info" page, "mica top" rows and their JSON lines. Pure functions of
 * the reply's JSON (and the time, passed in), so the unit tests feed them
 * canned replies. Fields of the wrong type or missing show as "-": the
 * reply is micad's, but a CLI of another version may read it.
 */
#ifndef MICA_TOOLSTACK_CLI_FORMAT_H
#define MICA_TOOLSTACK_CLI_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* "mica list": a header and one row per domain of {"domains":[...]}. */
void cli_format_list(FILE *f, const json_t *domains_reply, time_t now);

/* "mica info": GET /v1/domains/NAME's reply (DOMAIN + config + events). */
void cli_format_info(FILE *f, const json_t *domain, time_t now);

/* --json output: the JSON with sorted keys, indented, one trailing \n. */
int cli_format_json(FILE *f, const json_t *j);

/*
 * Seconds since the Unix epoch of an RFC 3339 time ("2024-05-01T12:00:00Z",
 * fractions and numeric offsets allowed) or of a JSON integer. Returns -1
 * when j is neither.
 */
long long cli_format_parse_time(const json_t *j);

/* One domain's counters in one "mica top" sample. */
struct cli_top_sample {
	char name[64];
	char state[16];
	double cpu_percent; /* < 0: unknown */
	uint64_t rss_bytes;
	uint64_t exits; /* total of every vCPU */
	uint64_t disk_read, disk_write; /* bytes, every disk */
	uint64_t net_rx, net_tx; /* bytes, every interface */
	bool has_stats; /* false: not running, or stats failed */
};

/* Fills s from a domain object and its GET .../stats reply (or NULL). */
void cli_top_sample_fill(struct cli_top_sample *s, const json_t *domain,
			 const json_t *stats);

/*
 * Rates of one domain between two samples dt seconds apart (prev NULL:
 * no rates yet, shown as "-"). A counter that went backwards (the guest
 * rebooted and its counters restarted) gives no rate either.
 */
struct cli_top_rates {
	bool valid;
	double exits, disk_read, disk_write, net_rx, net_tx; /* per second */
};
void cli_top_rates(const struct cli_top_sample *prev,
		   const struct cli_top_sample *cur, double dt,
		   struct cli_top_rates *out);

void cli_format_top_header(FILE *f);
void cli_format_top_row(FILE *f, const struct cli_top_sample *s,
			const struct cli_top_rates *r);
/* Appends the domain's object to the array of a JSON line. */
int cli_format_top_json(json_t *array, const struct cli_top_sample *s,
			const struct cli_top_rates *r);

/* "1.5G", "512M", "12K", "100B": bytes for humans, 4 characters or so. */
void cli_format_bytes(char *buf, size_t len, double bytes);

#endif
