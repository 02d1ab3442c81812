// SPDX-License-Identifier: MIT
/*
 * Unit tests of micad's API routes and validation (toolstack/micad_api.c)
 * against a fake supervisor: every error class (400, 404, 405, 409, 413,
 * 429, 500), duplicate names, bodies of the wrong shape, the rate limit,
 * and the shape of the replies.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolstack/micad_api.h"
#include "unit/test.h"

/* ---- the fake supervisor ---- */

static struct {
	unsigned int calls;
	char last_op[16];
	char name[64];
	bool start;
	enum micad_action act;
	unsigned int timeout_s, limit;
	int rc; /* what the next call returns */
	char created[64][8];
	unsigned int nr_created;
} fake;

static int fake_result(const char *op, const char *name, json_t **out,
		       char *err, size_t errlen)
{
	fake.calls++;
	snprintf(fake.last_op, sizeof(fake.last_op), "%s", op);
	snprintf(fake.name, sizeof(fake.name), "%s", name ? name : "");
	if (fake.rc) {
		snprintf(err, errlen, "domain '%s': fake failure", name);
		return fake.rc;
	}
	*out = json_pack("{s:s, s:s}", "name", name ? name : "", "state",
			 "running");
	return 0;
}

static int f_list(void *o, json_t **out, char *err, size_t errlen)
{
	(void)o;
	(void)err;
	(void)errlen;
	fake.calls++;
	snprintf(fake.last_op, sizeof(fake.last_op), "list");
	*out = json_pack("{s:[]}", "domains");
	return 0;
}

static int f_create(void *o, struct domain_config *cfg, bool start,
		    json_t **out, char *err, size_t errlen)
{
	unsigned int i;
	int rc;

	(void)o;
	fake.start = start;
	for (i = 0; i < fake.nr_created; i++) {
		if (!strcmp(fake.created[i], cfg->name)) {
			snprintf(err, errlen, "domain '%s' already exists",
				 cfg->name);
			domcfg_free(cfg);
			fake.calls++;
			return -EEXIST;
		}
	}
	rc = fake_result("create", cfg->name, out, err, errlen);
	if (!rc && fake.nr_created < 8)
		snprintf(fake.created[fake.nr_created++], 64, "%s", cfg->name);
	domcfg_free(cfg);
	return rc;
}

static int f_get(void *o, const char *name, json_t **out, char *err,
		 size_t errlen)
{
	(void)o;
	return fake_result("get", name, out, err, errlen);
}

static int f_action(void *o, const char *name, enum micad_action act,
		    unsigned int timeout_s, json_t **out, char *err,
		    size_t errlen)
{
	(void)o;
	fake.act = act;
	fake.timeout_s = timeout_s;
	return fake_result("action", name, out, err, errlen);
}

static int f_destroy(void *o, const char *name, char *err, size_t errlen)
{
	json_t *dummy = NULL;
	int rc;

	(void)o;
	rc = fake_result("destroy", name, &dummy, err, errlen);
	json_decref(dummy);
	return rc;
}

static int f_stats(void *o, const char *name, json_t **out, char *err,
		   size_t errlen)
{
	(void)o;
	return fake_result("stats", name, out, err, errlen);
}

static int f_events(void *o, const char *name, unsigned int limit, json_t **out,
		    char *err, size_t errlen)
{
	(void)o;
	fake.limit = limit;
	return fake_result("events", name, out, err, errlen);
}

static int f_console(void *o, const char *name, json_t **out, char *err,
		     size_t errlen)
{
	(void)o;
	return fake_result("console", name, out, err, errlen);
}

static const struct micad_ops fake_ops = {
	.list = f_list,
	.create = f_create,
	.get = f_get,
	.action = f_action,
	.destroy = f_destroy,
	.stats = f_stats,
	.events = f_events,
	.console = f_console,
};

static uint64_t fake_clock;

static uint64_t fake_now(void)
{
	return fake_clock;
}

static struct micad_api api;

static void setup(void)
{
	memset(&fake, 0, sizeof(fake));
	micad_api_init(&api, &fake_ops, NULL);
	fake_clock = 1000000000ull;
	api.now_ns = fake_now;
}

/* One request; returns the status, *body the parsed reply. */
static unsigned int req(const char *method, const char *path, const char *limit,
			const char *body, json_t **out)
{
	struct httpd_reply r;
	unsigned int status;

	micad_api_handle(&api, method, path, limit, body ? body : "",
			 body ? strlen(body) : 0, 1000, &r);
	status = r.status;
	if (out)
		*out = r.body ? json_loads(r.body, 0, NULL) : NULL;
	free(r.body);
	return status;
}

/* The reply is {"error": "..."} with exactly one member containing want. */
static bool error_says(json_t *o, const char *want)
{
	const char *m = json_string_value(json_object_get(o, "error"));
	bool ok = m && json_object_size(o) == 1 && strstr(m, want);

	if (!ok)
		printf("  reply error: %s (wanted '%s')\n", m ? m : "(none)",
		       want);
	return ok;
}

#define CFG(extra) \
	"{\"config\":{\"name\":\"web1\",\"kernel\":\"/boot/vmlinuz\"" extra "}}"

/* ---- cases ---- */

static void list_domains(void)
{
	json_t *o;

	setup();
	CHECK_EQ(req("GET", "/v1/domains", NULL, NULL, &o), 200);
	CHECK(json_is_array(json_object_get(o, "domains")));
	json_decref(o);
	CHECK_EQ(req("GET", "/v1/domains/", NULL, NULL, &o), 200);
	json_decref(o);
}

static void create_ok(void)
{
	json_t *o;

	setup();
	CHECK_EQ(req("POST", "/v1/domains", NULL, CFG(""), &o), 201);
	CHECK_STR(fake.last_op, "create");
	CHECK_STR(fake.name, "web1");
	CHECK(fake.start); /* the default */
	CHECK_STR(json_string_value(json_object_get(o, "name")), "web1");
	json_decref(o);
	CHECK_EQ(req("POST", "/v1/domains", NULL,
		     "{\"start\":false,\"config\":{\"name\":\"db1\","
		     "\"kernel\":\"/k\",\"memory\":64}}",
		     &o),
		 201);
	CHECK(!fake.start);
	json_decref(o);
}

static void create_duplicate_name(void)
{
	json_t *o;

	setup();
	CHECK_EQ(req("POST", "/v1/domains", NULL, CFG(""), NULL), 201);
	CHECK_EQ(req("POST", "/v1/domains", NULL, CFG(""), &o), 409);
	CHECK(error_says(o, "'web1' already exists"));
	json_decref(o);
}

static void create_bad_bodies(void)
{
	static const struct {
		const char *body, *says;
	} cases[] = {
		{ "{\"config\":", "malformed JSON at line 1" },
		{ "[1,2]", "must be a JSON object" },
		{ "\"x\"", "malformed JSON" }, /* jansson wants a container */
		{ "{}", "field 'config' is required" },
		{ "{\"config\":[]}", "'config' must be a JSON object" },
		{ "{\"config\":{\"name\":\"a\",\"kernel\":\"/k\"},"
		  "\"start\":1}",
		  "'start' must be true or false" },
		{ "{\"config\":{\"name\":\"a\",\"kernel\":\"/k\"},"
		  "\"bogus\":1}",
		  "unknown field 'bogus'" },
		{ "{\"config\":{},\"config\":{}}", "malformed JSON" },
		{ CFG(",\"memroy\":3"), "unknown key 'memroy'" },
		{ CFG(",\"memory\":\"lots\""), "memory" },
		{ "{\"config\":{\"kernel\":\"/k\"}}", "name" },
		{ "{\"config\":{\"name\":\"a b\",\"kernel\":\"/k\"}}", "name" },
		{ CFG(",\"vcpus\":100000"), "vcpus" },
	};
	unsigned int i;
	json_t *o;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setup();
		CHECK_EQ(req("POST", "/v1/domains", NULL, cases[i].body, &o),
			 400);
		CHECK(error_says(o, cases[i].says));
		CHECK_EQ(fake.calls, 0); /* nothing reached the domains */
		json_decref(o);
	}
}

static void too_large(void)
{
	struct httpd_reply r;
	json_t *o;

	micad_api_too_large(&r);
	CHECK_EQ(r.status, 413);
	o = r.body ? json_loads(r.body, 0, NULL) : NULL;
	CHECK(error_says(o, "larger than 1048576 bytes"));
	json_decref(o);
	free(r.body);
}

static void not_found(void)
{
	static const char *const paths[] = {
		"/",
		"/v1",
		"/v1/domainsx",
		"/v2/domains",
		"/v1/domains/web1/nope",
		"/v1/domains/web1/pause/x",
		"/v1/domains/web1/",
		"/v1/domains/.hidden",
		"/v1/domains/-x",
		"/v1/domains/1234",
		"/v1/domains/a%20b",
		"/v1/domains/"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaa",
	};
	unsigned int i;
	json_t *o;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		setup();
		CHECK_EQ(req("GET", paths[i], NULL, NULL, &o), 404);
		CHECK(json_is_string(json_object_get(o, "error")));
		CHECK_EQ(fake.calls, 0);
		json_decref(o);
	}
	/* The supervisor's own 404. */
	setup();
	fake.rc = -ENOENT;
	CHECK_EQ(req("GET", "/v1/domains/ghost", NULL, NULL, &o), 404);
	CHECK(error_says(o, "'ghost'"));
	json_decref(o);
}

static void control_chars_cleaned(void)
{
	struct httpd_reply r;
	size_t i;

	setup();
	micad_api_handle(&api, "GET", "/v1/x\x1b[2J\n\xff", NULL, "", 0, 1, &r);
	CHECK_EQ(r.status, 404);
	CHECK(r.body != NULL);
	for (i = 0; r.body && r.body[i]; i++)
		CHECK(r.body[i] >= 0x20 && r.body[i] < 0x7f);
	free(r.body);
}

static void method_not_allowed(void)
{
	static const struct {
		const char *method, *path, *allow;
	} cases[] = {
		{ "PUT", "/v1/domains", "GET, POST" },
		{ "DELETE", "/v1/domains", "GET, POST" },
		{ "POST", "/v1/domains/web1", "GET, DELETE" },
		{ "GET", "/v1/domains/web1/pause", "POST" },
		{ "PUT", "/v1/domains/web1/shutdown", "POST" },
		{ "POST", "/v1/domains/web1/stats", "GET" },
		{ "DELETE", "/v1/domains/web1/events", "GET" },
		{ "POST", "/v1/domains/web1/console", "GET" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct httpd_reply r;
		json_t *o;

		setup();
		micad_api_handle(&api, cases[i].method, cases[i].path, NULL, "",
				 0, 1, &r);
		CHECK_EQ(r.status, 405);
		CHECK_STR(r.allow, cases[i].allow);
		o = r.body ? json_loads(r.body, 0, NULL) : NULL;
		CHECK(error_says(o, "is not allowed on"));
		json_decref(o);
		free(r.body);
		CHECK_EQ(fake.calls, 0);
	}
}

static void actions(void)
{
	json_t *o;

	setup();
	CHECK_EQ(req("POST", "/v1/domains/web1/pause", NULL, NULL, &o), 200);
	CHECK_EQ(fake.act, MICAD_PAUSE);
	CHECK_STR(fake.name, "web1");
	json_decref(o);
	CHECK_EQ(req("POST", "/v1/domains/web1/unpause", NULL, "{}", NULL),
		 200);
	CHECK_EQ(fake.act, MICAD_UNPAUSE);
	CHECK_EQ(req("POST", "/v1/domains/web1/reboot", NULL, NULL, NULL), 200);
	CHECK_EQ(fake.act, MICAD_REBOOT);
	CHECK_EQ(req("POST", "/v1/domains/web1/shutdown", NULL, NULL, NULL),
		 202);
	CHECK_EQ(fake.act, MICAD_SHUTDOWN);
	CHECK_EQ(fake.timeout_s, 60);
	CHECK_EQ(req("POST", "/v1/domains/web1/shutdown", NULL,
		     "{\"timeout_s\":5}", NULL),
		 202);
	CHECK_EQ(fake.timeout_s, 5);
}

static void action_errors(void)
{
	static const struct {
		const char *path, *body, *says;
	} bad[] = {
		{ "/v1/domains/web1/pause", "{\"x\":1}", "unknown field 'x'" },
		{ "/v1/domains/web1/reboot", "[]", "must be a JSON object" },
		{ "/v1/domains/web1/shutdown", "{\"timeout_s\":0}",
		  "'timeout_s' must be" },
		{ "/v1/domains/web1/shutdown", "{\"timeout_s\":\"5\"}",
		  "'timeout_s' must be" },
		{ "/v1/domains/web1/shutdown", "{\"timeout_s\":1.5}",
		  "'timeout_s' must be" },
		{ "/v1/domains/web1/shutdown", "{\"timeout_s\":99999999}",
		  "'timeout_s' must be" },
		{ "/v1/domains/web1/pause", "{\"timeout_s\":5}",
		  "unknown field 'timeout_s'" },
	};
	unsigned int i;
	json_t *o;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup();
		CHECK_EQ(req("POST", bad[i].path, NULL, bad[i].body, &o), 400);
		CHECK(error_says(o, bad[i].says));
		CHECK_EQ(fake.calls, 0);
		json_decref(o);
	}
	/* Wrong state: the supervisor's -EBUSY is a 409. */
	setup();
	fake.rc = -EBUSY;
	CHECK_EQ(req("POST", "/v1/domains/web1/unpause", NULL, NULL, &o), 409);
	CHECK(error_says(o, "web1"));
	json_decref(o);
	/* Anything else from the supervisor: 500, with its message. */
	fake.rc = -EIO;
	CHECK_EQ(req("GET", "/v1/domains/web1/stats", NULL, NULL, &o), 500);
	CHECK(error_says(o, "fake failure"));
	json_decref(o);
}

static void destroy_reply(void)
{
	json_t *o;

	setup();
	CHECK_EQ(req("DELETE", "/v1/domains/web1", NULL, NULL, &o), 200);
	CHECK_STR(json_string_value(json_object_get(o, "destroyed")), "web1");
	json_decref(o);
	fake.rc = -ENOENT;
	CHECK_EQ(req("DELETE", "/v1/domains/web1", NULL, NULL, &o), 404);
	json_decref(o);
}

static void events_limit(void)
{
	json_t *o;

	setup();
	CHECK_EQ(req("GET", "/v1/domains/web1/events", NULL, NULL, NULL), 200);
	CHECK_EQ(fake.limit, 20);
	CHECK_EQ(req("GET", "/v1/domains/web1/events", "5", NULL, NULL), 200);
	CHECK_EQ(fake.limit, 5);
	CHECK_EQ(req("GET", "/v1/domains/web1/events", "1000", NULL, NULL),
		 200);
	CHECK_EQ(fake.limit, 1000);
	fake.calls = 0;
	CHECK_EQ(req("GET", "/v1/domains/web1/events", "abc", NULL, &o), 400);
	CHECK(error_says(o, "limit=abc"));
	json_decref(o);
	CHECK_EQ(req("GET", "/v1/domains/web1/events", "0", NULL, NULL), 400);
	CHECK_EQ(req("GET", "/v1/domains/web1/events", "-1", NULL, NULL), 400);
	CHECK_EQ(req("GET", "/v1/domains/web1/events", "1001", NULL, NULL),
		 400);
	CHECK_EQ(req("GET", "/v1/domains/web1/events", "", NULL, NULL), 400);
	CHECK_EQ(fake.calls, 0);
	CHECK_EQ(req("GET", "/v1/domains/web1/console", NULL, NULL, NULL), 200);
	CHECK_STR(fake.last_op, "console");
}

static void rate_limited(void)
{
	struct httpd_reply r;
	unsigned int i, ok = 0;
	json_t *o;

	setup();
	for (i = 0; i < MICAD_RATE_BURST + 10; i++)
		if (req("GET", "/v1/domains", NULL, NULL, NULL) == 200)
			ok++;
	CHECK_EQ(ok, MICAD_RATE_BURST);
	CHECK_EQ(req("GET", "/v1/domains", NULL, NULL, &o), 429);
	CHECK(error_says(o, "too many requests from uid 1000"));
	json_decref(o);
	/* Another client is not affected. */
	micad_api_handle(&api, "GET", "/v1/domains", NULL, "", 0, 1001, &r);
	CHECK_EQ(r.status, 200);
	free(r.body);
	/* One second later: MICAD_RATE_PER_S more. */
	fake_clock += 1000000000ull;
	for (ok = 0, i = 0; i < MICAD_RATE_PER_S + 10; i++)
		if (req("GET", "/v1/domains", NULL, NULL, NULL) == 200)
			ok++;
	CHECK_EQ(ok, MICAD_RATE_PER_S);
	/* Many clients: the table recycles, nobody is locked out. */
	for (i = 0; i < 3 * MICAD_RATE_CLIENTS; i++) {
		micad_api_handle(&api, "GET", "/v1/domains", NULL, "", 0,
				 (uid_t)(5000 + i), &r);
		CHECK_EQ(r.status, 200);
		free(r.body);
	}
}

TEST_SUITE(micad_api, TEST_CASE(list_domains), TEST_CASE(create_ok),
	   TEST_CASE(create_duplicate_name), TEST_CASE(create_bad_bodies),
	   TEST_CASE(too_large), TEST_CASE(not_found),
	   TEST_CASE(control_chars_cleaned), TEST_CASE(method_not_allowed),
	   TEST_CASE(actions), TEST_CASE(action_errors),
	   TEST_CASE(destroy_reply), TEST_CASE(events_limit),
	   TEST_CASE(rate_limited));
