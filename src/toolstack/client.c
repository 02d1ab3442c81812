// SPDX-License-Identifier: MIT
/*
 * The CLI's client for micad's HTTP/JSON API over a UNIX socket (client.h).
 *
 * Why libcurl through dlopen(): the mica binary is also the VMM, started
 * once per domain, and must stay lean. Linked, libcurl (and the TLS, IDN,
 * LDAP, SSH... libraries Debian's build pulls in) would be loaded by every
 * "mica run"; loaded on demand, only a CLI verb pays for it. We call seven
 * functions of its stable ABI and pass option numbers that libcurl has
 * kept since 7.40 (UNIX sockets), so no curl headers are needed to build.
 * If the library is missing the verb fails with a message naming it.
 *
 * What comes back is checked: the reply is capped at CLIENT_REPLY_MAX and
 * parsed by jansson; callers check fields for type before use.
 */
#include "toolstack/client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/dynlib.h"

#define CURL_SONAME "libcurl.so.4"

/* From libcurl's ABI (curl/curl.h): option = type base + number. */
#define CURLOPT_WRITEDATA 10001
#define CURLOPT_URL 10002
#define CURLOPT_PROXY 10004
#define CURLOPT_ERRORBUFFER 10010
#define CURLOPT_POSTFIELDS 10015
#define CURLOPT_HTTPHEADER 10023
#define CURLOPT_CUSTOMREQUEST 10036
#define CURLOPT_UNIX_SOCKET_PATH 10231
#define CURLOPT_WRITEFUNCTION 20011
#define CURLOPT_POSTFIELDSIZE 60
#define CURLOPT_NOSIGNAL 99
#define CURLOPT_TIMEOUT_MS 155
#define CURLOPT_CONNECTTIMEOUT_MS 156
#define CURLINFO_RESPONSE_CODE 0x200002
#define CURL_ERROR_SIZE 256

/* CURLcode values we tell apart. */
#define CURLE_OK 0
#define CURLE_COULDNT_CONNECT 7
#define CURLE_WRITE_ERROR 23
#define CURLE_OPERATION_TIMEDOUT 28

struct curl_slist;

static struct libcurl {
	bool loaded;
	void *(*easy_init)(void);
	int (*easy_setopt)(void *h, int opt, ...);
	int (*easy_perform)(void *h);
	int (*easy_getinfo)(void *h, int info, ...);
	void (*easy_cleanup)(void *h);
	const char *(*easy_strerror)(int code);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
} curl;

#define CURL_SYM(field) DYNLIB_SYM(struct libcurl, field, "curl_" #field)

static int load_curl(char *err, size_t errlen)
{
	static const struct dynlib_sym syms[] = {
		CURL_SYM(easy_init),	CURL_SYM(easy_setopt),
		CURL_SYM(easy_perform), CURL_SYM(easy_getinfo),
		CURL_SYM(easy_cleanup), CURL_SYM(easy_strerror),
		CURL_SYM(slist_append), CURL_SYM(slist_free_all),
	};
	int rc;

	if (curl.loaded)
		return 0;
	rc = dynlib_load("the mica CLI (to talk to micad)", CURL_SONAME,
			 "libcurl4", syms, sizeof(syms) / sizeof(syms[0]),
			 &curl, err, errlen);
	curl.loaded = rc == 0;
	return rc;
}

const char *client_socket_path(const char *path)
{
	const char *env;

	if (path)
		return path;
	env = getenv("MICA_SOCKET");
	if (env && *env)
		return env;
	return CLIENT_DEFAULT_SOCKET;
}

int client_init(struct client *c, const char *socket, char *err, size_t errlen)
{
	size_t len = strlen(socket);

	*c = (struct client){ .timeout_ms = CLIENT_TIMEOUT_MS };
	if (!len || len > CLIENT_SOCKET_MAX) {
		snprintf(err, errlen,
			 "micad socket '%s': %s (a UNIX socket path has 1 to "
			 "%d bytes)",
			 socket, len ? "too long" : "empty", CLIENT_SOCKET_MAX);
		return -ENAMETOOLONG;
	}
	memcpy(c->socket, socket, len + 1);
	return 0;
}

int client_escape(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = (ch >= 'a' && ch <= 'z') ||
			     (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || ch == '-' ||
			     ch == '.' || ch == '_' || ch == '~';

		if (n + (plain ? 1 : 3) >= len)
			return -ENAMETOOLONG;
		if (plain) {
			buf[n++] = (char)ch;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[ch >> 4];
			buf[n++] = hex[ch & 15];
		}
	}
	if (n >= len)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

struct sink {
	char *buf;
	size_t len, cap;
	bool too_large;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *opaque)
{
	struct sink *s = opaque;
	size_t n = size * nmemb;

	if (n > CLIENT_REPLY_MAX - s->len) {
		s->too_large = true;
		return 0; /* libcurl ends the transfer: CURLE_WRITE_ERROR */
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *p;

		while (cap < s->len + n + 1)
			cap *= 2;
		p = realloc(s->buf, cap);
		if (!p)
			return 0;
		s->buf = p;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

/*
 * libcurl reports any failure to connect as CURLE_COULDNT_CONNECT without
 * the reason; a connect() of our own tells "no such file" (micad never ran
 * or uses another socket) from "refused" (micad died) and "permission
 * denied" (not in micad's group).
 */
static int probe_socket(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, rc = -ECONNREFUSED;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		rc = -errno;
	else
		rc = 0;
	close(fd);
	return rc;
}

int client_request(struct client *c, const char *method, const char *path,
		   const json_t *body, struct client_reply *r, char *err,
		   size_t errlen)
{
	char url[1024], curl_err[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL, *l;
	struct sink sink = { 0 };
	char *text = NULL;
	long status = 0;
	void *h = NULL;
	int rc, code;

	*r = (struct client_reply){ 0 };
	rc = load_curl(err, errlen);
	if (rc)
		return rc;
	if ((size_t)snprintf(url, sizeof(url), "http://localhost%s", path) >=
	    sizeof(url)) {
		snprintf(err, errlen, "request path too long: %.64s...", path);
		return -ENAMETOOLONG;
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			goto nomem;
	}
	h = curl.easy_init();
	if (!h)
		goto nomem;
	/* "Expect:" off: no 100-continue round trip for larger bodies. */
	l = curl.slist_append(NULL, "Expect:");
	headers = l;
	if (l && text)
		l = curl.slist_append(headers,
				      "Content-Type: application/json");
	if (!l)
		goto nomem;
	headers = l;

	code = curl.easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	code |= curl.easy_setopt(h, CURLOPT_URL, url);
	code |= curl.easy_setopt(h, CURLOPT_PROXY, ""); /* ignore *_proxy */
	code |= curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	code |= curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	code |= curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
				 CLIENT_CONNECT_TIMEOUT_MS);
	code |= curl.easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	code |= curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	code |= curl.easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	code |= curl.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	code |= curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (text) {
		code |= curl.easy_setopt(h, CURLOPT_POSTFIELDS, text);
		code |= curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE,
					 (long)strlen(text));
	}
	if (code) {
		snprintf(err, errlen, "setting up a request to micad: %s",
			 curl.easy_strerror(code));
		rc = -EIO;
		goto out;
	}

	code = curl.easy_perform(h);
	if (code == CURLE_COULDNT_CONNECT) {
		int probe = probe_socket(c->socket);
		bool denied = probe == -EACCES || probe == -EPERM;

		snprintf(err, errlen, "cannot reach micad at %s: %s (%s)",
			 c->socket, strerror(probe ? -probe : ECONNREFUSED),
			 denied ? "the socket is for micad's owner, or its "
				  "--group: are you in it?" :
				  "is micad running?");
		rc = probe ? probe : -ECONNREFUSED;
		goto out;
	}
	if (code == CURLE_WRITE_ERROR && sink.too_large) {
		snprintf(err, errlen,
			 "micad at %s: reply larger than %u MiB: refused",
			 c->socket, CLIENT_REPLY_MAX >> 20);
		rc = -EFBIG;
		goto out;
	}
	if (code == CURLE_OPERATION_TIMEDOUT) {
		snprintf(err, errlen, "micad at %s: no reply within %ld s",
			 c->socket, c->timeout_ms / 1000);
		rc = -ETIMEDOUT;
		goto out;
	}
	if (code != CURLE_OK) {
		snprintf(err, errlen, "micad at %s: %s", c->socket,
			 curl_err[0] ? curl_err : curl.easy_strerror(code));
		rc = -EIO;
		goto out;
	}
	curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	r->status = status;
	if (!sink.buf) {
		sink.buf = strdup("");
		if (!sink.buf)
			goto nomem;
	}
	r->body = sink.buf;
	r->len = sink.len;
	sink.buf = NULL;
	r->json = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, NULL);
	rc = 0;
	goto out;

nomem:
	snprintf(err, errlen, "out of memory");
	rc = -ENOMEM;
out:
	if (h)
		curl.easy_cleanup(h);
	if (headers)
		curl.slist_free_all(headers);
	free(sink.buf);
	free(text);
	return rc;
}

void client_reply_free(struct client_reply *r)
{
	free(r->body);
	json_decref(r->json);
	*r = (struct client_reply){ 0 };
}

void client_reply_error(const struct client_reply *r, char *msg, size_t len)
{
	const char *e = NULL;
	size_t i;

	if (r->json && json_is_object(r->json))
		e = json_string_value(json_object_get(r->json, "error"));
	if (e) {
		snprintf(msg, len, "%s", e);
		/* micad's text, but keep terminal escapes off the screen */
		for (i = 0; msg[i]; i++)
			if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
				msg[i] = '?';
		return;
	}
	snprintf(msg, len, "micad answered HTTP %ld%s", r->status,
		 r->status >= 200 && r->status < 300 ?
			 " without the expected JSON" :
			 " without an error message");
}
