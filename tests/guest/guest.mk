# Tiny test guests (tier 2), included by the top Makefile.
#
#   make guests        builds every guest into $(BUILD)/guests/
#   tests/guest/run.sh [MICA]   boots each with mica on /dev/kvm
#
# The PVH guests are 32-bit ELFs (ld -m elf_i386, tests/guest/guest.ld);
# long64 is a bzImage made from a 64-bit link (tests/guest/bzimage.ld) by
# objcopy -O binary. Freestanding: no libc, no libgcc, no system headers,
# no SSE, no CET (this host's KVM emulates CPL0 code and knows no endbr).

GUEST_SRC := tests/guest
GUEST_OUT := $(BUILD)/guests
GUEST_OBJ := $(GUEST_OUT)/obj

GUEST_CC ?= gcc
GUEST_LD ?= ld
GUEST_OBJCOPY ?= objcopy

GUEST_SMP_MAX_APS := 31
GUEST_FLAGS := -std=gnu11 -O2 -g -ffreestanding -nostdinc -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables \
	-fno-unwind-tables -fcf-protection=none -mgeneral-regs-only \
	-Wall -Wextra -Werror -I$(GUEST_SRC) -MMD -MP \
	-DSMP_MAX_APS=$(GUEST_SMP_MAX_APS)
GUEST_FLAGS32 := $(GUEST_FLAGS) -m32 -march=i686
GUEST_FLAGS64 := $(GUEST_FLAGS) -m64 -mcmodel=small -mno-red-zone

# 32-bit PVH guests: NAME.c + the 32-bit runtime (+ extra objects below).
GUEST_PVH := hello pio_mmio smp hlt_irq poweroff reset triple uart_rx pci \
	virtio_blk counter
GUEST_LIB32 := $(addprefix $(GUEST_OBJ)/,pvh32.o lib32.o irq32.o)

GUEST_BINS := $(patsubst %,$(GUEST_OUT)/%.elf,$(GUEST_PVH)) \
	$(GUEST_OUT)/long64.bzImage $(GUEST_OUT)/nonote.elf

.PHONY: guests
guests: $(GUEST_BINS)

$(GUEST_OBJ)/%.o: $(GUEST_SRC)/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_FLAGS32) -c -o $@ $<

$(GUEST_OBJ)/%.o: $(GUEST_SRC)/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_FLAGS32) -c -o $@ $<

$(GUEST_OBJ)/lib32.o: $(GUEST_SRC)/lib/lib.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_FLAGS32) -c -o $@ $<

$(GUEST_OBJ)/irq32.o: $(GUEST_SRC)/lib/irq32.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_FLAGS32) -c -o $@ $<

$(GUEST_OBJ)/pvh32.o: $(GUEST_SRC)/lib/pvh32.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_FLAGS32) -c -o $@ $<

$(GUEST_OBJ)/lib64.o: $(GUEST_SRC)/lib/lib.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_FLAGS64) -c -o $@ $<

$(GUEST_OBJ)/long64.o: $(GUEST_SRC)/long64.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_FLAGS64) -c -o $@ $<

$(GUEST_OBJ)/long64_head.o: $(GUEST_SRC)/long64_head.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_FLAGS64) -c -o $@ $<

GUEST_LDFLAGS := -nostdlib --no-warn-rwx-segments

# Objects are kept (not removed as intermediates): they carry the .d files.
.SECONDARY: $(patsubst %,$(GUEST_OBJ)/%.o,$(GUEST_PVH) smp_tramp long64 \
	long64_head lib64) $(GUEST_LIB32)

$(GUEST_OUT)/smp.elf: $(GUEST_OBJ)/smp_tramp.o

$(GUEST_OUT)/%.elf: $(GUEST_OBJ)/%.o $(GUEST_LIB32) $(GUEST_SRC)/guest.ld
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -T $(GUEST_SRC)/guest.ld -o $@ \
		$(filter %.o,$^)

$(GUEST_OUT)/long64.elf: $(GUEST_OBJ)/long64_head.o $(GUEST_OBJ)/long64.o \
		$(GUEST_OBJ)/lib64.o $(GUEST_SRC)/bzimage.ld
	$(GUEST_LD) -m elf_x86_64 $(GUEST_LDFLAGS) -T $(GUEST_SRC)/bzimage.ld -o $@ \
		$(filter %.o,$^)

$(GUEST_OUT)/long64.bzImage: $(GUEST_OUT)/long64.elf
	$(GUEST_OBJCOPY) -O binary $< $@

# A valid i386 ELF without the PVH note, for mica's bad-input tests.
$(GUEST_OUT)/nonote.elf: $(GUEST_OUT)/hello.elf
	$(GUEST_OBJCOPY) --remove-section .note.Xen $< $@

-include $(wildcard $(GUEST_OBJ)/*.d)
