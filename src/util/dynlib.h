/* SPDX-License-Identifier: MIT */
/*
 * Libraries loaded on first use with dlopen(): the ones only some VMs need
 * (libslirp with its GLib for --net user, libmicrohttpd for --api-socket,
 * libcurl for the CLI verbs). Linked at build time they would be loaded,
 * relocated and initialised by every "mica run", which costs start-up time
 * and resident memory (docs/design.md, "Libraries").
 */
#ifndef MICA_UTIL_DYNLIB_H
#define MICA_UTIL_DYNLIB_H

#include <stdbool.h>
#include <stddef.h>

struct dynlib_sym {
	const char *name;
	size_t offset; /* of its function pointer in the caller's table */
};

#define DYNLIB_SYM(table_type, member, symbol)                         \
	{                                                              \
		.name = symbol, .offset = offsetof(table_type, member) \
	}

/*
 * Opens soname and fills the function pointers of table (at each sym's
 * offset). Returns 0, or -ENOENT with a message in err naming what (the
 * option or feature that needs it), the library, its Debian package and
 * the reason. Call once; the library stays loaded.
 */
int dynlib_load(const char *what, const char *soname, const char *package,
		const struct dynlib_sym *syms, size_t nr, void *table,
		char *err, size_t errlen);

#endif
