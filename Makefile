# mica build. One Makefile, explicit object lists.
#
#   make            release binary: build/mica (hardened flags)
#   make check      unit tests (ASan/UBSan) + tiny guests on /dev/kvm
#   make guests     the freestanding test guests
#   make format     clang-format every C file in place
#
# Two build flavours share one source list: build/ (release) and
# build/asan/ (AddressSanitizer + UndefinedBehaviorSanitizer, for tests).

CC ?= gcc
BUILD ?= build

# The VMM, except main.c (which the unit tests replace with their runner):
# every .c file under src/, one directory per layer (docs/design.md).
# micad's own parts (src/toolstack/micad_*.c) link SQLite directly, so they
# stay out of mica: micad and the unit tests add them.
MICAD_LIB_SRCS := $(sort $(wildcard src/toolstack/micad_*.c))
LIB_SRCS := $(sort $(filter-out src/main.c src/micad.c $(MICAD_LIB_SRCS), \
	$(wildcard src/*.c src/*/*.c src/*/*/*.c)))

MAIN_SRCS := src/main.c
# micad, the toolstack daemon: its own main, the same library objects.
MICAD_SRCS := $(MICAD_LIB_SRCS) src/micad.c

# The unit tests: tests/unit/main.c lists the suites.
UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))

# libFuzzer targets, one per file (tests/fuzz/README.md).
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

WARNINGS := -Wall -Wextra -Wformat=2 -Wmissing-prototypes \
	-Wstrict-prototypes -Wundef -Wwrite-strings -Wshadow -Wconversion \
	-Wno-sign-conversion -Werror
BASE_CFLAGS := -std=gnu11 -g -Isrc -Itests $(WARNINGS) -pthread \
	-D_GNU_SOURCE -MMD -MP
HARDEN_CFLAGS := -O2 -D_FORTIFY_SOURCE=3 -fstack-protector-strong \
	-fstack-clash-protection -fcf-protection -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
SAN_FLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all

# Libraries from Debian (docs/design.md says why each): liburing for
# asynchronous block I/O, jansson for every JSON document; the
# headers of the ones loaded with dlopen() (libslirp, libmicrohttpd) and of
# micad's SQLite.
LIB_HEADERS := liburing.h slirp/libslirp.h jansson.h microhttpd.h sqlite3.h
LIBS := -Wl,--as-needed -pthread -ldl -luring -ljansson

deps-check := $(strip $(foreach h,$(LIB_HEADERS),$(if $(wildcard /usr/include/$(h)),,$(h))))
# micad alone links the daemon's libraries; mica loads libslirp (--net
# user), libmicrohttpd (--api-socket; micad's --socket too, through
# src/util/httpd.c) and libcurl (the CLI verbs) with dlopen() when a VM or
# a command needs them (src/util/dynlib.h).
MICAD_LIBS := $(LIBS) -lsqlite3

ifneq ($(deps-check),)
$(error missing headers: $(deps-check); run scripts/install-deps (liburing-dev libslirp-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev))
endif

RELEASE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS) $(MAIN_SRCS))
ASAN_LIB_OBJS := $(patsubst %.c,$(BUILD)/asan/%.o,$(LIB_SRCS))
ASAN_MAIN_OBJS := $(patsubst %.c,$(BUILD)/asan/%.o,$(MAIN_SRCS))
UNIT_OBJS := $(patsubst %.c,$(BUILD)/asan/%.o,$(UNIT_SRCS))
ASAN_MICAD_OBJS := $(patsubst %.c,$(BUILD)/asan/%.o,$(MICAD_SRCS))

.PHONY: all check unit fuzz guests format format-check clean
all: $(BUILD)/mica $(if $(wildcard $(MICAD_SRCS)),$(BUILD)/micad)

$(BUILD)/mica: $(RELEASE_OBJS)
	$(CC) $(HARDEN_LDFLAGS) -o $@ $^ $(LIBS)

MICAD_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS) $(MICAD_SRCS))
$(BUILD)/micad: $(MICAD_OBJS)
	$(CC) $(HARDEN_LDFLAGS) -o $@ $^ $(MICAD_LIBS)

$(BUILD)/asan/micad: $(ASAN_LIB_OBJS) $(ASAN_MICAD_OBJS)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(MICAD_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(HARDEN_CFLAGS) $(CFLAGS) -c -o $@ $<

# The sanitizer build of mica itself, used by the tiny-guest tests.
$(BUILD)/asan/mica: $(ASAN_LIB_OBJS) $(ASAN_MAIN_OBJS)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LIBS)

$(BUILD)/asan/unit-tests: $(ASAN_LIB_OBJS) $(UNIT_OBJS) \
	$(filter-out %/src/micad.o,$(ASAN_MICAD_OBJS))
	$(CC) $(SAN_FLAGS) -o $@ $^ $(MICAD_LIBS)

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) $(CFLAGS) -c -o $@ $<

# libFuzzer builds: clang, the VMM's objects built for fuzzing, one target
# each. tests/fuzz/run runs each over its corpus for a short time.
FUZZ_CC ?= clang
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LIB_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRCS))

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE_CFLAGS) -Wno-unknown-warning-option $(FUZZ_FLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/fuzz/%: $(BUILD)/fuzz/obj/tests/fuzz/%.o $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(MICAD_LIBS)

fuzz: $(FUZZ_BINS)

unit: $(BUILD)/asan/unit-tests
	$(BUILD)/asan/unit-tests

include tests/guest/guest.mk

check: $(BUILD)/asan/unit-tests $(BUILD)/asan/mica guests
	tests/run --tier 1 --tier 2

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(RELEASE_OBJS:.o=.d) $(MICAD_OBJS:.o=.d) $(ASAN_MICAD_OBJS:.o=.d) $(ASAN_LIB_OBJS:.o=.d) $(ASAN_MAIN_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) \
	$(FUZZ_LIB_OBJS:.o=.d)
