// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for domain configurations (src/toolstack/xlcfg.c,
 * domcfg.c): the input is parsed as xl.cfg syntax and as JSON. Whatever
 * it is, nothing may crash or leak. Invariants checked:
 *
 *   - a failure always comes with a message, and a success with none;
 *   - xlcfg's positions lie inside the input;
 *   - a domain that parsed has a canonical JSON, which parses back to a
 *     domain with the same canonical JSON, with no warning the first
 *     parse did not give (those about the input's own form are gone).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "toolstack/domcfg.h"
#include "toolstack/xlcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct domain_config dc, dc2;
static struct domcfg_msgs msgs, first;

/* The text of a warning after its "file[:line]: " prefix. */
static const char *body(const char *w)
{
	const char *p = strstr(w, ": ");

	return p ? p + 2 : w;
}

static bool warned_before(const char *w)
{
	unsigned int i;

	for (i = 0; i < first.nr_warnings; i++)
		if (!strcmp(body(first.warnings[i]), body(w)))
			return true;
	return false;
}

static void check_value(const struct xlcfg_value *v, unsigned int lines)
{
	unsigned int i;

	if (v->line < 1 || v->line > lines || v->col < 1)
		abort();
	if ((v->type == XLCFG_STRING || v->type == XLCFG_NUMBER) &&
	    (!v->str || strlen(v->str) != v->len))
		abort();
	for (i = 0; i < v->nr_items; i++)
		check_value(&v->items[i], lines);
}

static void syntax(const char *text, size_t size)
{
	struct xlcfg cfg;
	struct xlcfg_error err;
	unsigned int lines = 1, i;
	size_t k;
	int rc;

	for (k = 0; k < size; k++)
		lines += text[k] == '\n';
	rc = xlcfg_parse(text, size, &cfg, &err);
	if (rc) {
		if (cfg.nr_settings || !err.msg[0] || err.line < 1 ||
		    err.line > lines)
			abort();
		return;
	}
	for (i = 0; i < cfg.nr_settings; i++) {
		if (cfg.settings[i].line < 1 || cfg.settings[i].line > lines)
			abort();
		check_value(&cfg.settings[i].value, lines);
	}
	xlcfg_free(&cfg);
}

static void domain(const char *text, size_t size, enum domcfg_format fmt)
{
	json_t *j, *j2;
	char *s, *s2;
	unsigned int i;
	int rc;

	rc = domcfg_parse(text, size, "fuzz", fmt, &dc, &msgs);
	if (rc) {
		if (rc != -ENOMEM && !msgs.error[0])
			abort();
		return;
	}
	if (msgs.error[0])
		abort();
	j = domcfg_to_json(&dc);
	if (!j)
		abort();
	first = msgs;
	rc = domcfg_from_json(j, "canonical", &dc2, &msgs);
	if (rc)
		abort();
	for (i = 0; i < msgs.nr_warnings; i++)
		if (!warned_before(msgs.warnings[i]))
			abort();
	j2 = domcfg_to_json(&dc2);
	s = json_dumps(j, JSON_SORT_KEYS);
	s2 = j2 ? json_dumps(j2, JSON_SORT_KEYS) : NULL;
	if (!s || !s2 || strcmp(s, s2))
		abort();
	free(s);
	free(s2);
	json_decref(j);
	json_decref(j2);
	domcfg_free(&dc2);
	domcfg_free(&dc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;

	syntax(text, size);
	domain(text, size, DOMCFG_XL);
	domain(text, size, DOMCFG_JSON);
	return 0;
}
