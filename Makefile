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

# The VMM, except main.c (which the unit tests replace with their runner).
LIB_SRCS := \
	src/util/log.c \
	src/util/loop.c \
	src/config/cli.c \
	src/config/size.c \
	src/vm/kvm.c \
	src/vm/guest_mem.c \
	src/vm/vcpu.c \
	src/vm/vm.c \
	src/bus/bus.c \
	src/arch/x86_64/boot.c \
	src/arch/x86_64/bzimage.c \
	src/arch/x86_64/pvh.c \
	src/arch/x86_64/e820.c \
	src/arch/x86_64/acpi.c \
	src/arch/x86_64/cpuid.c \
	src/devices/registry.c \
	src/devices/uart16550.c \
	src/devices/i8042.c \
	src/devices/rtc.c \
	src/devices/pm.c \
	src/devices/reset.c \
	src/devices/debug_exit.c \
	src/backends/stdio.c

MAIN_SRCS := src/main.c

UNIT_SRCS := \
	tests/unit/main.c \
	tests/unit/fake.c \
	tests/unit/test_guest_mem.c \
	tests/unit/test_bus.c \
	tests/unit/test_size.c \
	tests/unit/test_cli.c \
	tests/unit/test_e820.c \
	tests/unit/test_boot.c \
	tests/unit/test_bzimage.c \
	tests/unit/test_pvh.c \
	tests/unit/test_acpi.c \
	tests/unit/test_cpuid.c \
	tests/unit/test_uart.c \
	tests/unit/test_i8042.c \
	tests/unit/test_rtc.c \
	tests/unit/test_pm.c \
	tests/unit/test_registry.c

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

LIBS := -pthread

RELEASE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS) $(MAIN_SRCS))
ASAN_LIB_OBJS := $(patsubst %.c,$(BUILD)/asan/%.o,$(LIB_SRCS))
ASAN_MAIN_OBJS := $(patsubst %.c,$(BUILD)/asan/%.o,$(MAIN_SRCS))
UNIT_OBJS := $(patsubst %.c,$(BUILD)/asan/%.o,$(UNIT_SRCS))

.PHONY: all check unit guests format format-check clean
all: $(BUILD)/mica

$(BUILD)/mica: $(RELEASE_OBJS)
	$(CC) $(HARDEN_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(HARDEN_CFLAGS) $(CFLAGS) -c -o $@ $<

# The sanitizer build of mica itself, used by the tiny-guest tests.
$(BUILD)/asan/mica: $(ASAN_LIB_OBJS) $(ASAN_MAIN_OBJS)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LIBS)

$(BUILD)/asan/unit-tests: $(ASAN_LIB_OBJS) $(UNIT_OBJS)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LIBS)

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) $(CFLAGS) -c -o $@ $<

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

-include $(RELEASE_OBJS:.o=.d) $(ASAN_LIB_OBJS:.o=.d) $(ASAN_MAIN_OBJS:.o=.d) $(UNIT_OBJS:.o=.d)
