/* SPDX-License-Identifier: MIT */
/*
 * The syntax of Xen's domain configuration files (xl.cfg(5)), read into a
 * generic list of settings that remember their line and column. What the
 * keys mean is domcfg.c's business; this file only knows the syntax:
 *
 *   # a comment, to the end of the line
 *   KEY = VALUE            one per line, or several separated by ';'
 *   KEY += VALUE           recorded with append set (domcfg rejects it)
 *
 * where KEY is [A-Za-z_][A-Za-z0-9_]* and VALUE is
 *
 *   'string' or "string"   on one line; C-style escapes: \\ \' \" \n \t \r
 *                          \a \b \f \v, \ooo (octal), \xHH (hex); a NUL
 *                          (\0) is refused
 *   NUMBER                 decimal, octal (leading 0) or hex (0x prefix),
 *                          as xl.cfg(5) says; at most 2^64 - 1
 *   [ VALUE, VALUE, ... ]  a list, possibly nested, spanning lines, with
 *                          comments inside and an optional trailing comma
 *
 * The text is untrusted (it may come from an API client): every size is
 * bounded below, recursion is bounded by XLCFG_MAX_DEPTH, and a mistake is
 * reported with its line, column and what was expected.
 */
#ifndef MICA_TOOLSTACK_XLCFG_H
#define MICA_TOOLSTACK_XLCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XLCFG_MAX_TEXT (1u << 20) /* bytes in one file */
#define XLCFG_MAX_SETTINGS 512
#define XLCFG_MAX_ITEMS 256 /* in one list */
#define XLCFG_MAX_DEPTH 8 /* lists inside lists */
#define XLCFG_KEY_MAX 63 /* characters in a key */
#define XLCFG_STRING_MAX 65536 /* bytes in one string, after unescaping */

enum xlcfg_type {
	XLCFG_STRING,
	XLCFG_NUMBER,
	XLCFG_LIST,
	XLCFG_BOOL, /* never from xl syntax: JSON's true and false */
};

struct xlcfg_value {
	enum xlcfg_type type;
	/* Where the value starts, 1-based; 0 when it has no position (JSON). */
	unsigned int line, col;
	/*
	 * STRING: the unescaped text, NUL-terminated, no NUL inside.
	 * NUMBER: the number as written (e.g. "0x10"). NULL for the others.
	 */
	char *str;
	size_t len; /* strlen(str) */
	uint64_t num; /* NUMBER */
	bool boolean; /* BOOL */
	struct xlcfg_value *items; /* LIST */
	unsigned int nr_items;
};

struct xlcfg_setting {
	char key[XLCFG_KEY_MAX + 1];
	bool append; /* written "KEY += VALUE" */
	unsigned int line, col; /* of the key; 0 when unknown (JSON) */
	struct xlcfg_value value;
};

/*
 * The settings of one file in the order written. Everything behind it is
 * heap memory owned by the struct (settings, strings, list items), released
 * by xlcfg_free(); other code that builds one (domcfg's JSON reader) follows
 * the same rule.
 */
struct xlcfg {
	struct xlcfg_setting *settings;
	unsigned int nr_settings;
};

struct xlcfg_error {
	unsigned int line, col; /* 1-based */
	char msg[160];
};

/*
 * Parses text (len bytes, need not be NUL-terminated). Returns 0 with the
 * settings in *out; -EINVAL for a syntax error or -EFBIG for a limit
 * exceeded, both with *err filled; -ENOMEM. On failure *out is empty.
 */
int xlcfg_parse(const char *text, size_t len, struct xlcfg *out,
		struct xlcfg_error *err);

void xlcfg_free(struct xlcfg *cfg);

/* Frees what a value owns (not the value itself). */
void xlcfg_value_free(struct xlcfg_value *v);

/*
 * A number in xl's notation, the whole of s[0..len): decimal, octal with a
 * leading 0, hex with 0x or 0X. Returns 0, -EINVAL or -ERANGE.
 */
int xlcfg_parse_number(const char *s, size_t len, uint64_t *out);

/* The name of a type for messages: "a string", "a number", ... */
const char *xlcfg_type_name(enum xlcfg_type type);

#endif
