// SPDX-License-Identifier: MIT
/* Loading a library and its functions on first use (see dynlib.h). */
#include "util/dynlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int dynlib_load(const char *what, const char *soname, const char *package,
		const struct dynlib_sym *syms, size_t nr, void *table,
		char *err, size_t errlen)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	size_t i;

	if (!h) {
		snprintf(err, errlen,
			 "%s: cannot load %s (Debian package %s): %s", what,
			 soname, package, dlerror());
		return -ENOENT;
	}
	for (i = 0; i < nr; i++) {
		void *p = dlsym(h, syms[i].name);

		if (!p) {
			snprintf(err, errlen, "%s: %s has no %s", what, soname,
				 syms[i].name);
			dlclose(h);
			return -ENOENT;
		}
		/* POSIX: a function's address fits in a void *. */
		memcpy((char *)table + syms[i].offset, &p, sizeof(p));
	}
	return 0;
}
