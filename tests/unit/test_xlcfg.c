// SPDX-License-Identifier: MIT
/*
 * Tests of the xl.cfg syntax reader (src/toolstack/xlcfg.c): every value
 * type, quoting and escapes, lists over several lines with comments,
 * separators, and that each mistake is reported with its line, column and
 * what was expected; limits on size, count and nesting.
 */
#include "unit/test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "toolstack/xlcfg.h"

static struct xlcfg cfg;
static struct xlcfg_error err;

static int parse(const char *text)
{
	xlcfg_free(&cfg);
	return xlcfg_parse(text, strlen(text), &cfg, &err);
}

/* Expects a failure at line:col whose message contains want. */
#define EXPECT_ERR(text, eline, ecol, want) \
	expect_err(__LINE__, text, eline, ecol, want)

static void expect_err(int line, const char *text, unsigned int eline,
		       unsigned int ecol, const char *want)
{
	int rc = parse(text);

	if (rc != -EINVAL) {
		test_fail(__FILE__, line, "rc %d, expected -EINVAL", rc);
		return;
	}
	if (err.line != eline || err.col != ecol)
		test_fail(__FILE__, line, "error at %u:%u, expected %u:%u (%s)",
			  err.line, err.col, eline, ecol, err.msg);
	if (!strstr(err.msg, want))
		test_fail(__FILE__, line, "message '%s' lacks '%s'", err.msg,
			  want);
	if (cfg.nr_settings || cfg.settings)
		test_fail(__FILE__, line, "settings left after a failure");
}

static void test_basic(void)
{
	CHECK_EQ(parse("name = 'web1'\nmemory=512\nvcpus =\t2\n"), 0);
	CHECK_EQ(cfg.nr_settings, 3);
	CHECK_STR(cfg.settings[0].key, "name");
	CHECK_EQ(cfg.settings[0].value.type, XLCFG_STRING);
	CHECK_STR(cfg.settings[0].value.str, "web1");
	CHECK_EQ(cfg.settings[0].value.len, 4);
	CHECK_EQ(cfg.settings[0].line, 1);
	CHECK_EQ(cfg.settings[0].col, 1);
	CHECK_EQ(cfg.settings[0].value.col, 8);
	CHECK_STR(cfg.settings[1].key, "memory");
	CHECK_EQ(cfg.settings[1].value.type, XLCFG_NUMBER);
	CHECK_EQ(cfg.settings[1].value.num, 512);
	CHECK_STR(cfg.settings[1].value.str, "512");
	CHECK_EQ(cfg.settings[1].line, 2);
	CHECK_EQ(cfg.settings[2].value.num, 2);
	CHECK_EQ(cfg.settings[2].line, 3);
	CHECK(!cfg.settings[2].append);

	/* empty, blank and comment-only files */
	CHECK_EQ(parse(""), 0);
	CHECK_EQ(cfg.nr_settings, 0);
	CHECK_EQ(parse("\n\n   \n# only a comment\n\t# another\n"), 0);
	CHECK_EQ(cfg.nr_settings, 0);

	/* no newline at the end; a comment after a value */
	CHECK_EQ(parse("a = 1 # one\nb = 'x#y' # the # is in the string"), 0);
	CHECK_EQ(cfg.nr_settings, 2);
	CHECK_STR(cfg.settings[1].value.str, "x#y");

	/* keys: letters, digits after the first, underscores */
	CHECK_EQ(parse("_a_1 = 1\non_poweroff='destroy'"), 0);
	CHECK_STR(cfg.settings[0].key, "_a_1");
	CHECK_STR(cfg.settings[1].key, "on_poweroff");
}

static void test_separators(void)
{
	/* xl.cfg(5): pairs may be separated by a newline or a semicolon */
	CHECK_EQ(parse("name=\"h0\"; type=\"hvm\""), 0);
	CHECK_EQ(cfg.nr_settings, 2);
	CHECK_STR(cfg.settings[1].key, "type");
	CHECK_EQ(cfg.settings[1].col, 12);
	CHECK_EQ(parse(";;a=1;;\n;b=2;"), 0);
	CHECK_EQ(cfg.nr_settings, 2);
	/* CRLF line ends and a UTF-8 BOM */
	CHECK_EQ(parse("\xef\xbb\xbf"
		       "a = 1\r\nb = 'two'\r\n"),
		 0);
	CHECK_EQ(cfg.nr_settings, 2);
	CHECK_EQ(cfg.settings[0].col, 1);
	CHECK_STR(cfg.settings[1].value.str, "two");
	CHECK_EQ(cfg.settings[1].line, 2);
	/* += is recorded, not interpreted */
	CHECK_EQ(parse("extra += ' quiet'"), 0);
	CHECK(cfg.settings[0].append);
	CHECK_STR(cfg.settings[0].value.str, " quiet");
}

static void test_strings(void)
{
	CHECK_EQ(parse("a = 'it''s'"), -EINVAL); /* no SQL-style doubling */
	CHECK_EQ(parse("a = \"it's\"\nb = 'say \"hi\"'"), 0);
	CHECK_STR(cfg.settings[0].value.str, "it's");
	CHECK_STR(cfg.settings[1].value.str, "say \"hi\"");
	CHECK_EQ(parse("a = ''"), 0);
	CHECK_EQ(cfg.settings[0].value.len, 0);
	CHECK_STR(cfg.settings[0].value.str, "");

	/* every escape */
	CHECK_EQ(parse("a = '\\\\ \\' \\\" \\n\\t\\r\\a\\b\\f\\v'"), 0);
	CHECK_STR(cfg.settings[0].value.str, "\\ ' \" \n\t\r\a\b\f\v");
	CHECK_EQ(parse("a = \"\\101\\x42\\x4a\\7\\0101\""), 0);
	CHECK_STR(cfg.settings[0].value.str, "ABJ\a\0101");
	CHECK_EQ(cfg.settings[0].value.len, 6);
	/* tabs and UTF-8 pass through */
	CHECK_EQ(parse("a = 'x\ty \xc3\xa9'"), 0);
	CHECK_STR(cfg.settings[0].value.str, "x\ty \xc3\xa9");

	EXPECT_ERR("a = 'abc\\q'", 1, 9, "unknown escape");
	EXPECT_ERR("a = 'abc\\0'", 1, 9, "NUL");
	EXPECT_ERR("a = 'abc\\x00'", 1, 9, "NUL");
	EXPECT_ERR("a = '\\x'", 1, 6, "hex digits");
	EXPECT_ERR("a = '\\400'", 1, 6, "octal");
	EXPECT_ERR("a = 1\nb = 'open\nc = 2", 2, 5, "unterminated string");
	EXPECT_ERR("a = \"open", 1, 5, "unterminated string");
	EXPECT_ERR("a = 'ends in a backslash\\", 1, 5, "unterminated");
	EXPECT_ERR("a = 'ctl\x01'", 1, 9, "byte 0x01");
	EXPECT_ERR("a = 'nul\0'", 1, 5, "unterminated"); /* strlen stops */
}

static void test_nul_in_text(void)
{
	static const char text[] = "a = 'x\0y'\n";

	xlcfg_free(&cfg);
	CHECK_EQ(xlcfg_parse(text, sizeof(text) - 1, &cfg, &err), -EINVAL);
	CHECK_EQ(err.col, 7);
	CHECK(strstr(err.msg, "byte 0x00"));
	xlcfg_free(&cfg);
	CHECK_EQ(xlcfg_parse("a = 1\n\0", 7, &cfg, &err), -EINVAL);
	CHECK_EQ(err.line, 2);
	CHECK(strstr(err.msg, "expected a key"));
}

static void test_numbers(void)
{
	uint64_t v;

	CHECK_EQ(parse("a = 0\nb = 10\nc = 010\nd = 0x1F\ne = 0X10\n"
		       "f = 18446744073709551615"),
		 0);
	CHECK_EQ(cfg.settings[0].value.num, 0);
	CHECK_EQ(cfg.settings[1].value.num, 10);
	CHECK_EQ(cfg.settings[2].value.num, 8); /* octal, as xl */
	CHECK_EQ(cfg.settings[3].value.num, 31);
	CHECK_STR(cfg.settings[3].value.str, "0x1F");
	CHECK_EQ(cfg.settings[4].value.num, 16);
	CHECK_EQ(cfg.settings[5].value.num, UINT64_MAX);

	EXPECT_ERR("a = 18446744073709551616", 1, 5, "too large");
	EXPECT_ERR("a = 08", 1, 5, "bad number '08'");
	EXPECT_ERR("a = 12abc", 1, 5, "bad number '12abc'");
	EXPECT_ERR("a = 0x", 1, 5, "bad number");
	EXPECT_ERR("a = 1.5", 1, 5, "bad number '1.5'");
	EXPECT_ERR("a = -1", 1, 5, "negative");

	CHECK_EQ(xlcfg_parse_number("0x10", 4, &v), 0);
	CHECK_EQ(v, 16);
	CHECK_EQ(xlcfg_parse_number("", 0, &v), -EINVAL);
	CHECK_EQ(xlcfg_parse_number("1 ", 2, &v), -EINVAL);
	CHECK_EQ(xlcfg_parse_number("99999999999999999999", 20, &v), -ERANGE);
}

static void test_lists(void)
{
	const struct xlcfg_value *l;

	CHECK_EQ(parse("disk = [ ]"), 0);
	CHECK_EQ(cfg.settings[0].value.type, XLCFG_LIST);
	CHECK_EQ(cfg.settings[0].value.nr_items, 0);

	CHECK_EQ(parse("disk = [ 'a', \"b\", 3, ]"), 0);
	l = &cfg.settings[0].value;
	CHECK_EQ(l->nr_items, 3);
	CHECK_STR(l->items[0].str, "a");
	CHECK_STR(l->items[1].str, "b");
	CHECK_EQ(l->items[2].type, XLCFG_NUMBER);
	CHECK_EQ(l->items[2].num, 3);

	/* over lines, with comments, then another key */
	CHECK_EQ(parse("vif = [\n"
		       "  'mac=00:16:3e:00:00:01', # first\n"
		       "\n"
		       "  # a comment line\n"
		       "  'bridge=xenbr0'\n"
		       "]\n"
		       "name = 'x'\n"),
		 0);
	CHECK_EQ(cfg.nr_settings, 2);
	l = &cfg.settings[0].value;
	CHECK_EQ(l->nr_items, 2);
	CHECK_EQ(l->items[0].line, 2);
	CHECK_EQ(l->items[0].col, 3);
	CHECK_EQ(l->items[1].line, 5);
	CHECK_STR(l->items[1].str, "bridge=xenbr0");
	CHECK_EQ(cfg.settings[1].line, 7);

	/* nested, heterogeneous (xl.cfg(5) allows both) */
	CHECK_EQ(parse("a = [ [1, 2], ['x', [ ]], 3 ]"), 0);
	l = &cfg.settings[0].value;
	CHECK_EQ(l->nr_items, 3);
	CHECK_EQ(l->items[0].type, XLCFG_LIST);
	CHECK_EQ(l->items[0].nr_items, 2);
	CHECK_EQ(l->items[0].items[1].num, 2);
	CHECK_EQ(l->items[1].items[1].type, XLCFG_LIST);

	EXPECT_ERR("a = [ 'x' 'y' ]", 1, 11, "expected ',' or ']'");
	EXPECT_ERR("a = [\n 'x',\n 'y'\n", 1, 5, "unterminated list");
	EXPECT_ERR("a = [ , ]", 1, 7, "expected a value");
	EXPECT_ERR("a = [ 'x',, ]", 1, 11, "expected a value");
	EXPECT_ERR("a = [ [ 'x' ]", 1, 5, "unterminated list");
	EXPECT_ERR("a = [ foo ]", 1, 7, "unquoted word 'foo'");
}

static void test_syntax_errors(void)
{
	EXPECT_ERR("memory 512", 1, 8, "expected '=' after 'memory'");
	EXPECT_ERR("memory\n= 512", 1, 7, "the end of the line");
	EXPECT_ERR("name = 'x'\nmemory =\nvcpus = 1", 2, 9,
		   "'memory =' has no value");
	EXPECT_ERR("memory = ;", 1, 10, "has no value");
	EXPECT_ERR("a = 1\n\nname = web1", 3, 8, "unquoted word 'web1'");
	EXPECT_ERR("name = 'x' 'y'", 1, 12, "expected the end of the line");
	EXPECT_ERR("memory = 512 MiB", 1, 14, "expected the end of the line");
	EXPECT_ERR("1abc = 2", 1, 1, "expected a key");
	EXPECT_ERR("a = 1\n  = 2", 2, 3, "expected a key");
	EXPECT_ERR("a-b = 2", 1, 2, "expected '=' after 'a'");
	EXPECT_ERR("a = {}", 1, 5, "expected a value");
	EXPECT_ERR("a = 1\n\xc3\xa9 = 1", 2, 1, "byte 0xc3");
	EXPECT_ERR("a += ", 1, 6, "no value");
	EXPECT_ERR("a =+ 1", 1, 4, "expected a value");
}

static void test_limits(void)
{
	char *big, key[XLCFG_KEY_MAX + 16];
	size_t i, n;
	int rc;

	/* the longest key, and one character more */
	memset(key, 'k', XLCFG_KEY_MAX);
	strcpy(key + XLCFG_KEY_MAX, "=1");
	CHECK_EQ(parse(key), 0);
	CHECK_EQ(strlen(cfg.settings[0].key), XLCFG_KEY_MAX);
	memset(key, 'k', XLCFG_KEY_MAX + 1);
	strcpy(key + XLCFG_KEY_MAX + 1, "=1");
	EXPECT_ERR(key, 1, 1, "longer than 63");

	/* text size */
	big = malloc(XLCFG_MAX_TEXT + 2);
	if (!big) {
		CHECK(big);
		return;
	}
	memset(big, '\n', XLCFG_MAX_TEXT + 1);
	xlcfg_free(&cfg);
	CHECK_EQ(xlcfg_parse(big, XLCFG_MAX_TEXT, &cfg, &err), 0);
	CHECK_EQ(xlcfg_parse(big, XLCFG_MAX_TEXT + 1, &cfg, &err), -EFBIG);
	CHECK(strstr(err.msg, "larger than 1024 KiB"));

	/* settings: the most, then one more */
	n = 0;
	for (i = 0; i < XLCFG_MAX_SETTINGS; i++)
		n += (size_t)sprintf(big + n, "k%zu=1\n", i);
	sprintf(big + n, "one_more=1\n");
	CHECK_EQ(xlcfg_parse(big, n, &cfg, &err), 0);
	CHECK_EQ(cfg.nr_settings, XLCFG_MAX_SETTINGS);
	xlcfg_free(&cfg);
	CHECK_EQ(xlcfg_parse(big, strlen(big), &cfg, &err), -EFBIG);
	CHECK(strstr(err.msg, "more than 512 settings"));
	CHECK_EQ(err.line, XLCFG_MAX_SETTINGS + 1);

	/* items in a list */
	n = (size_t)sprintf(big, "a = [");
	for (i = 0; i < XLCFG_MAX_ITEMS; i++)
		n += (size_t)sprintf(big + n, "%zu,", i);
	strcpy(big + n, "]");
	CHECK_EQ(parse(big), 0);
	CHECK_EQ(cfg.settings[0].value.nr_items, XLCFG_MAX_ITEMS);
	strcpy(big + n, "1]");
	rc = parse(big);
	CHECK_EQ(rc, -EFBIG);
	CHECK(strstr(err.msg, "more than 256 items"));

	/* nesting */
	n = (size_t)sprintf(big, "a = ");
	for (i = 0; i < XLCFG_MAX_DEPTH; i++)
		big[n++] = '[';
	for (i = 0; i < XLCFG_MAX_DEPTH; i++)
		big[n++] = ']';
	big[n] = '\0';
	CHECK_EQ(parse(big), 0);
	n = (size_t)sprintf(big, "a = ");
	for (i = 0; i <= XLCFG_MAX_DEPTH; i++)
		big[n++] = '[';
	for (i = 0; i <= XLCFG_MAX_DEPTH; i++)
		big[n++] = ']';
	big[n] = '\0';
	CHECK_EQ(parse(big), -EFBIG);
	CHECK(strstr(err.msg, "nested more than 8"));
	CHECK_EQ(err.col, 5 + XLCFG_MAX_DEPTH);

	/* the longest string, and one byte more */
	n = (size_t)sprintf(big, "a = '");
	memset(big + n, 's', XLCFG_STRING_MAX);
	strcpy(big + n + XLCFG_STRING_MAX, "'");
	CHECK_EQ(parse(big), 0);
	CHECK_EQ(cfg.settings[0].value.len, XLCFG_STRING_MAX);
	memset(big + n, 's', XLCFG_STRING_MAX + 1);
	strcpy(big + n + XLCFG_STRING_MAX + 1, "'");
	rc = parse(big);
	CHECK_EQ(rc, -EINVAL);
	CHECK(strstr(err.msg, "longer than 65536"));
	free(big);
	xlcfg_free(&cfg);
}

/* A failure deep inside nested lists frees everything (ASan checks). */
static void test_failure_frees(void)
{
	CHECK_EQ(parse("a = [ 'x', [ 'y', [ 'z', 'unterminated ] ] ]"),
		 -EINVAL);
	CHECK_EQ(parse("a = 'x'\nb = [ [ 'y', 1 ], [ 'z', 08 ] ]"), -EINVAL);
	CHECK_EQ(err.line, 2);
	CHECK_EQ(parse("a = [ 'x', \n"), -EINVAL);
	xlcfg_free(&cfg);
	xlcfg_free(&cfg); /* twice is harmless */
}

static void test_type_names(void)
{
	CHECK_STR(xlcfg_type_name(XLCFG_STRING), "a string");
	CHECK_STR(xlcfg_type_name(XLCFG_NUMBER), "a number");
	CHECK_STR(xlcfg_type_name(XLCFG_LIST), "a list");
	CHECK_STR(xlcfg_type_name(XLCFG_BOOL), "a boolean");
}

TEST_SUITE(xlcfg, TEST_CASE(test_basic), TEST_CASE(test_separators),
	   TEST_CASE(test_strings), TEST_CASE(test_nul_in_text),
	   TEST_CASE(test_numbers), TEST_CASE(test_lists),
	   TEST_CASE(test_syntax_errors), TEST_CASE(test_limits),
	   TEST_CASE(test_failure_frees), TEST_CASE(test_type_names));
