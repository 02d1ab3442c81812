// SPDX-License-Identifier: MIT
/*
 * A reader for the syntax of xl.cfg(5) domain configuration files (see
 * xlcfg.h for the grammar): a hand-written scanner and recursive-descent
 * parser over untrusted text. Every allocation is bounded by the limits in
 * xlcfg.h; recursion only happens for nested lists, at most
 * XLCFG_MAX_DEPTH deep. No key is interpreted here.
 */
#include "toolstack/xlcfg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *p, *end;
	const char *line_start;
	unsigned int line;
	unsigned int depth; /* lists open around the current position */
	struct xlcfg_error *err;
};

static unsigned int col_of(const struct parser *ps, const char *at)
{
	size_t col = (size_t)(at - ps->line_start) + 1;

	return col > 0xffffffffu ? 0xffffffffu : (unsigned int)col;
}

static int fail_at(struct parser *ps, int rc, unsigned int line,
		   unsigned int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail_at(struct parser *ps, int rc, unsigned int line,
		   unsigned int col, const char *fmt, ...)
{
	va_list ap;

	ps->err->line = line;
	ps->err->col = col;
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

#define fail_here(ps, ...) \
	fail_at(ps, -EINVAL, (ps)->line, col_of(ps, (ps)->p), __VA_ARGS__)

static bool at_end(const struct parser *ps)
{
	return ps->p >= ps->end;
}

static bool is_key_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_key_char(char c)
{
	return is_key_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A description of the character at p for messages: 'x' or 0x01. */
static const char *describe_char(char c, char *buf, size_t len)
{
	unsigned char u = (unsigned char)c;

	if (c == '\'')
		snprintf(buf, len, "\"'\"");
	else if (u > 0x20 && u < 0x7f)
		snprintf(buf, len, "'%c'", c);
	else
		snprintf(buf, len, "byte 0x%02x", u);
	return buf;
}

/*
 * Skips spaces, tabs, carriage returns and comments; newlines too when
 * newlines is set (inside a list), counting lines.
 */
static void skip_blank(struct parser *ps, bool newlines)
{
	while (!at_end(ps)) {
		char c = *ps->p;

		if (c == ' ' || c == '\t' || c == '\r') {
			ps->p++;
		} else if (c == '#') {
			while (!at_end(ps) && *ps->p != '\n')
				ps->p++;
		} else if (c == '\n' && newlines) {
			ps->p++;
			ps->line++;
			ps->line_start = ps->p;
		} else {
			break;
		}
	}
}

int xlcfg_parse_number(const char *s, size_t len, uint64_t *out)
{
	unsigned int base = 10;
	uint64_t v = 0;
	size_t i = 0;

	if (len == 0)
		return -EINVAL;
	if (len > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
		if (len == 2)
			return -EINVAL;
	} else if (len > 1 && s[0] == '0') {
		base = 8;
		i = 1;
	}
	for (; i < len; i++) {
		int d = hex_digit(s[i]);

		if (d < 0 || (unsigned int)d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - (unsigned int)d) / base)
			return -ERANGE;
		v = v * base + (unsigned int)d;
	}
	*out = v;
	return 0;
}

const char *xlcfg_type_name(enum xlcfg_type type)
{
	switch (type) {
	case XLCFG_STRING:
		return "a string";
	case XLCFG_NUMBER:
		return "a number";
	case XLCFG_LIST:
		return "a list";
	case XLCFG_BOOL:
		return "a boolean";
	}
	return "a value";
}

void xlcfg_value_free(struct xlcfg_value *v)
{
	unsigned int i;

	for (i = 0; i < v->nr_items; i++)
		xlcfg_value_free(&v->items[i]);
	free(v->items);
	free(v->str);
	v->items = NULL;
	v->nr_items = 0;
	v->str = NULL;
}

void xlcfg_free(struct xlcfg *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_settings; i++)
		xlcfg_value_free(&cfg->settings[i].value);
	free(cfg->settings);
	cfg->settings = NULL;
	cfg->nr_settings = 0;
}

static int parse_value(struct parser *ps, struct xlcfg_value *v);

/*
 * One escape sequence after a backslash at *pp (pointing past it). Returns
 * the byte, or -1 with the error filled.
 */
static int parse_escape(struct parser *ps, const char **pp, const char *end)
{
	const char *p = *pp;
	unsigned int v = 0, n;
	char buf[16];

	switch (*p) {
	case '\\':
	case '\'':
	case '"':
		*pp = p + 1;
		return (unsigned char)*p;
	case 'n':
		*pp = p + 1;
		return '\n';
	case 't':
		*pp = p + 1;
		return '\t';
	case 'r':
		*pp = p + 1;
		return '\r';
	case 'a':
		*pp = p + 1;
		return '\a';
	case 'b':
		*pp = p + 1;
		return '\b';
	case 'f':
		*pp = p + 1;
		return '\f';
	case 'v':
		*pp = p + 1;
		return '\v';
	case 'x':
		p++;
		for (n = 0; n < 2 && p < end && hex_digit(*p) >= 0; n++, p++)
			v = v * 16 + (unsigned int)hex_digit(*p);
		if (n == 0) {
			fail_at(ps, -EINVAL, ps->line, col_of(ps, *pp - 1),
				"'\\x' needs one or two hex digits");
			return -1;
		}
		break;
	default:
		if (*p < '0' || *p > '7') {
			fail_at(ps, -EINVAL, ps->line, col_of(ps, *pp - 1),
				"unknown escape '\\' followed by %s (known: "
				"\\\\ \\' \\\" \\n \\t \\r \\a \\b \\f \\v "
				"\\ooo \\xHH)",
				describe_char(*p, buf, sizeof(buf)));
			return -1;
		}
		for (n = 0; n < 3 && p < end && *p >= '0' && *p <= '7';
		     n++, p++)
			v = v * 8 + (unsigned int)(*p - '0');
		if (v > 0xff) {
			fail_at(ps, -EINVAL, ps->line, col_of(ps, *pp - 1),
				"octal escape above \\377");
			return -1;
		}
		break;
	}
	if (v == 0) {
		fail_at(ps, -EINVAL, ps->line, col_of(ps, *pp - 1),
			"a NUL byte (\\0) cannot be part of a string");
		return -1;
	}
	*pp = p;
	return (int)v;
}

/* '...' or "...", on one line. ps->p is at the opening quote. */
static int parse_string(struct parser *ps, struct xlcfg_value *v)
{
	const char q = *ps->p, *start = ps->p + 1, *p, *close = NULL;
	char *out, buf[16];
	size_t n = 0;

	/* First find the closing quote, so the buffer is sized once. */
	for (p = start; p < ps->end; p++) {
		if (*p == '\\') {
			if (p + 1 >= ps->end || p[1] == '\n')
				break;
			p++;
		} else if (*p == q) {
			close = p;
			break;
		} else if (*p == '\n') {
			break;
		}
	}
	if (!close)
		return fail_here(ps,
				 "unterminated string: a string ends with "
				 "%c on the line it starts on",
				 q);
	if ((size_t)(close - start) > XLCFG_STRING_MAX)
		goto too_long;
	out = malloc((size_t)(close - start) + 1);
	if (!out)
		return -ENOMEM;
	for (p = start; p < close;) {
		unsigned char c = (unsigned char)*p;
		int e;

		if (c == '\\') {
			p++;
			e = parse_escape(ps, &p, close);
			if (e < 0) {
				free(out);
				return -EINVAL;
			}
			out[n++] = (char)e;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			free(out);
			return fail_at(ps, -EINVAL, ps->line, col_of(ps, p),
				       "%s in a string (write it as an "
				       "escape, e.g. \\t)",
				       describe_char((char)c, buf,
						     sizeof(buf)));
		}
		out[n++] = (char)c;
		p++;
	}
	if (n > XLCFG_STRING_MAX) {
		free(out);
		goto too_long;
	}
	out[n] = '\0';
	v->type = XLCFG_STRING;
	v->str = out;
	v->len = n;
	ps->p = close + 1;
	return 0;
too_long:
	return fail_here(ps, "string longer than %u bytes", XLCFG_STRING_MAX);
}

static int parse_number(struct parser *ps, struct xlcfg_value *v)
{
	const char *start = ps->p, *p = ps->p;
	size_t len;
	int rc;

	while (p < ps->end && (is_key_char(*p) || *p == '.'))
		p++;
	len = (size_t)(p - start);
	if (len > 64)
		return fail_here(ps, "number too long");
	rc = xlcfg_parse_number(start, len, &v->num);
	if (rc == -ERANGE)
		return fail_here(ps,
				 "number '%.*s' is too large (at most "
				 "2^64 - 1)",
				 (int)len, start);
	if (rc)
		return fail_here(ps,
				 "bad number '%.*s': expected decimal, octal "
				 "(leading 0) or hex (0x...) digits",
				 (int)len, start);
	v->str = strndup(start, len);
	if (!v->str)
		return -ENOMEM;
	v->type = XLCFG_NUMBER;
	v->len = len;
	ps->p = p;
	return 0;
}

/* Adds room for one more item to a list; -EFBIG at the limit. */
static int grow_items(struct parser *ps, struct xlcfg_value *list,
		      unsigned int *cap)
{
	struct xlcfg_value *items;
	unsigned int ncap;

	if (list->nr_items < *cap)
		return 0;
	if (list->nr_items >= XLCFG_MAX_ITEMS)
		return fail_at(ps, -EFBIG, ps->line, col_of(ps, ps->p),
			       "list with more than %u items", XLCFG_MAX_ITEMS);
	ncap = *cap ? *cap * 2 : 4;
	if (ncap > XLCFG_MAX_ITEMS)
		ncap = XLCFG_MAX_ITEMS;
	items = realloc(list->items, ncap * sizeof(*items));
	if (!items)
		return -ENOMEM;
	list->items = items;
	*cap = ncap;
	return 0;
}

/* [ VALUE, ... ]; ps->p is at '['. */
static int parse_list(struct parser *ps, struct xlcfg_value *v)
{
	unsigned int open_line = ps->line, open_col = col_of(ps, ps->p);
	unsigned int cap = 0;
	int rc;

	if (ps->depth >= XLCFG_MAX_DEPTH)
		return fail_at(ps, -EFBIG, ps->line, open_col,
			       "lists nested more than %u deep",
			       XLCFG_MAX_DEPTH);
	v->type = XLCFG_LIST;
	ps->p++;
	ps->depth++;
	for (;;) {
		skip_blank(ps, true);
		if (at_end(ps))
			goto unterminated;
		if (*ps->p == ']')
			break;
		rc = grow_items(ps, v, &cap);
		if (rc)
			return rc;
		memset(&v->items[v->nr_items], 0, sizeof(v->items[0]));
		/* Counted first, so a half-built item is freed on failure. */
		v->nr_items++;
		rc = parse_value(ps, &v->items[v->nr_items - 1]);
		if (rc)
			return rc;
		skip_blank(ps, true);
		if (at_end(ps))
			goto unterminated;
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p != ']') {
			char buf[16];

			return fail_here(ps,
					 "expected ',' or ']' in the list "
					 "opened on line %u, found %s",
					 open_line,
					 describe_char(*ps->p, buf,
						       sizeof(buf)));
		}
	}
	ps->p++;
	ps->depth--;
	return 0;
unterminated:
	return fail_at(ps, -EINVAL, open_line, open_col,
		       "unterminated list: no ']' for this '['");
}

static int parse_value(struct parser *ps, struct xlcfg_value *v)
{
	char c = *ps->p, buf[16];

	v->line = ps->line;
	v->col = col_of(ps, ps->p);
	if (c == '\'' || c == '"')
		return parse_string(ps, v);
	if (is_digit(c))
		return parse_number(ps, v);
	if (c == '[')
		return parse_list(ps, v);
	if (is_key_start(c)) {
		const char *e = ps->p;

		while (e < ps->end && is_key_char(*e) && e - ps->p < 32)
			e++;
		return fail_here(ps,
				 "unquoted word '%.*s': a string goes in "
				 "quotes, e.g. '%.*s'",
				 (int)(e - ps->p), ps->p, (int)(e - ps->p),
				 ps->p);
	}
	if (c == '-')
		return fail_here(ps, "negative numbers are not accepted");
	return fail_here(ps,
			 "expected a value ('string', number or [list]), "
			 "found %s",
			 describe_char(c, buf, sizeof(buf)));
}

/* KEY = VALUE or KEY += VALUE; ps->p is at the key's first character. */
static int parse_setting(struct parser *ps, struct xlcfg_setting *s)
{
	const char *start = ps->p;
	size_t len;
	char buf[16];
	int rc;

	s->line = ps->line;
	s->col = col_of(ps, ps->p);
	while (!at_end(ps) && is_key_char(*ps->p))
		ps->p++;
	len = (size_t)(ps->p - start);
	if (len > XLCFG_KEY_MAX)
		return fail_at(ps, -EINVAL, s->line, s->col,
			       "key '%.32s...' is longer than %u characters",
			       start, XLCFG_KEY_MAX);
	memcpy(s->key, start, len);
	s->key[len] = '\0';
	skip_blank(ps, false);
	if (!at_end(ps) && *ps->p == '+' && ps->p + 1 < ps->end &&
	    ps->p[1] == '=') {
		s->append = true;
		ps->p += 2;
	} else if (!at_end(ps) && *ps->p == '=') {
		ps->p++;
	} else {
		return fail_here(ps, "expected '=' after '%s', found %s",
				 s->key,
				 at_end(ps)	? "the end of the file" :
				 *ps->p == '\n' ? "the end of the line" :
						  describe_char(*ps->p, buf,
								sizeof(buf)));
	}
	skip_blank(ps, false);
	if (at_end(ps) || *ps->p == '\n' || *ps->p == ';')
		return fail_here(ps, "'%s =' has no value", s->key);
	rc = parse_value(ps, &s->value);
	if (rc)
		return rc;
	skip_blank(ps, false);
	if (!at_end(ps) && *ps->p != '\n' && *ps->p != ';')
		return fail_here(ps,
				 "expected the end of the line or ';' after "
				 "the value of '%s', found %s",
				 s->key,
				 describe_char(*ps->p, buf, sizeof(buf)));
	return 0;
}

int xlcfg_parse(const char *text, size_t len, struct xlcfg *out,
		struct xlcfg_error *err)
{
	struct parser ps = {
		.p = text,
		.end = text + len,
		.line_start = text,
		.line = 1,
		.err = err,
	};
	unsigned int cap = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	if (len > XLCFG_MAX_TEXT)
		return fail_at(&ps, -EFBIG, 1, 1,
			       "larger than %u KiB; a domain configuration "
			       "is a few lines",
			       XLCFG_MAX_TEXT >> 10);
	/* A UTF-8 byte order mark, as some editors write. */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		ps.p += 3;
		ps.line_start = ps.p;
	}
	for (;;) {
		struct xlcfg_setting *s;
		char buf[16];

		skip_blank(&ps, true);
		if (at_end(&ps))
			break;
		if (*ps.p == ';') {
			ps.p++;
			continue;
		}
		if (!is_key_start(*ps.p)) {
			rc = fail_here(&ps,
				       "expected a key (a name such as "
				       "'memory'), found %s",
				       describe_char(*ps.p, buf, sizeof(buf)));
			goto fail;
		}
		if (out->nr_settings == cap) {
			struct xlcfg_setting *n;
			unsigned int ncap = cap ? cap * 2 : 16;

			if (cap >= XLCFG_MAX_SETTINGS) {
				rc = fail_at(&ps, -EFBIG, ps.line,
					     col_of(&ps, ps.p),
					     "more than %u settings",
					     XLCFG_MAX_SETTINGS);
				goto fail;
			}
			if (ncap > XLCFG_MAX_SETTINGS)
				ncap = XLCFG_MAX_SETTINGS;
			n = realloc(out->settings, ncap * sizeof(*n));
			if (!n) {
				rc = -ENOMEM;
				goto fail;
			}
			out->settings = n;
			cap = ncap;
		}
		s = &out->settings[out->nr_settings];
		memset(s, 0, sizeof(*s));
		/* Counted now, so a half-built value is freed on failure. */
		out->nr_settings++;
		rc = parse_setting(&ps, s);
		if (rc)
			goto fail;
	}
	return 0;
fail:
	xlcfg_free(out);
	return rc;
}
