// SPDX-License-Identifier: MIT
/*
 * Guest "pci": finds the PCI host bridge the way an OS does. Tests that
 *  - configuration mechanism #1 works as Linux's pci_check_type1() probes
 *    it (a byte write to 0xcfb, then CONFIG_ADDRESS read back as a dword);
 *  - device 00.0 is a host bridge (class 06 00 00) through CF8/CFC;
 *  - the ACPI MCFG (found from the PVH start info's RSDP through the XSDT)
 *    announces the ECAM at mica's address for bus 0 only, and the ECAM
 *    returns the same configuration space as CF8/CFC for every slot;
 *  - absent slots and functions read all ones through both mechanisms;
 *  - byte and word reads of CONFIG_DATA agree with the dword.
 * Runs without any PCI device configured; exits 0 on success.
 */
#include "lib/guest.h"

#define PCI_ECAM 0xe0000000u /* layout.h LAYOUT_PCI_ECAM */
#define PCI_CF8 0xcf8
#define PCI_CFC 0xcfc

static u32 cf8_addr(u32 bus, u32 dev, u32 fn, u32 reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

static u32 cf8_read32(u32 dev, u32 fn, u32 reg)
{
	outl(PCI_CF8, cf8_addr(0, dev, fn, reg));
	return inl(PCI_CFC);
}

static u32 ecam_read32(u32 base, u32 dev, u32 fn, u32 reg)
{
	return mmio_r32(base + (dev << 15 | fn << 12 | reg));
}

static int sig_is(const u8 *p, const char *sig)
{
	return !strncmp((const char *)p, sig, 4);
}

static u32 rd32(const u8 *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24;
}

static u64 rd64(const u8 *p)
{
	return rd32(p) | (u64)rd32(p + 4) << 32;
}

/* The MCFG from the RSDP's XSDT, or NULL. Paging is off: identity. */
static const u8 *find_mcfg(const struct hvm_start_info *si)
{
	const u8 *rsdp = (const u8 *)(uptr)si->rsdp_paddr;
	const u8 *xsdt;
	u32 len;

	if (!si->rsdp_paddr || strncmp((const char *)rsdp, "RSD PTR ", 8))
		return NULL;
	if (rd64(rsdp + 24) >> 32)
		return NULL;
	xsdt = (const u8 *)(uptr)rd64(rsdp + 24);
	if (!sig_is(xsdt, "XSDT"))
		return NULL;
	len = rd32(xsdt + 4);
	for (u32 off = 36; off + 8 <= len && off < 36 + 8 * 16; off += 8) {
		u64 t = rd64(xsdt + off);

		if (t >> 32)
			continue;
		if (sig_is((const u8 *)(uptr)t, "MCFG"))
			return (const u8 *)(uptr)t;
	}
	return NULL;
}

int main(struct hvm_start_info *si)
{
	const u8 *mcfg;
	u32 ecam = PCI_ECAM, id, class, absent = 0, mismatch = 0;

	guest_name = "pci";

	/* pci_check_type1(): outb(0x01, 0xcfb), dword round trip. */
	outb(0xcfb, 0x01);
	outl(PCI_CF8, 0x80000000u);
	check(inl(PCI_CF8) == 0x80000000u,
	      "CONFIG_ADDRESS reads back 0x80000000");

	id = cf8_read32(0, 0, 0);
	class = cf8_read32(0, 0, 8) >> 8;
	printf("pci: 00.0 id %04x:%04x class %06x (cf8)\n", id & 0xffff,
	       id >> 16, class);
	check(id != 0xffffffffu && id != 0, "a device at 00.0");
	check(class == 0x060000, "00.0 is a host bridge");

	mcfg = find_mcfg(si);
	check(mcfg != NULL, "MCFG found through RSDP and XSDT");
	if (mcfg) {
		u64 base = rd64(mcfg + 44);

		printf("pci: MCFG ecam %llx segment %u buses %u-%u\n", base,
		       mcfg[52] | mcfg[53] << 8, mcfg[54], mcfg[55]);
		check(base == PCI_ECAM, "MCFG ECAM at 0xe0000000");
		check(mcfg[54] == 0 && mcfg[55] == 0, "MCFG buses 0-0");
		if (base == PCI_ECAM)
			ecam = (u32)base;
	}

	check(ecam_read32(ecam, 0, 0, 0) == id, "ECAM sees the same 00.0");
	for (u32 dev = 0; dev < 32; dev++) {
		u32 v = cf8_read32(dev, 0, 0);

		if (v == 0xffffffffu)
			absent++;
		for (u32 reg = 0; reg < 0x40; reg += 4)
			if (cf8_read32(dev, 0, reg) !=
			    ecam_read32(ecam, dev, 0, reg))
				mismatch++;
	}
	printf("pci: %u of 32 slots empty\n", absent);
	check(mismatch == 0, "CF8/CFC and ECAM agree on slots 0-31");
	check(absent > 0 && cf8_read32(31, 0, 0) == 0xffffffffu,
	      "absent slot 31 reads all ones (cf8)");
	check(ecam_read32(ecam, 31, 0, 0) == 0xffffffffu,
	      "absent slot 31 reads all ones (ecam)");
	check(cf8_read32(0, 1, 0) == 0xffffffffu &&
		      ecam_read32(ecam, 0, 7, 0) == 0xffffffffu,
	      "absent functions read all ones");
	outl(PCI_CF8, 0x00000000u);
	check(inl(PCI_CFC) == 0xffffffffu, "CONFIG_DATA without enable bit");

	/* Narrow reads of CONFIG_DATA. */
	outl(PCI_CF8, cf8_addr(0, 0, 0, 0));
	check(inw(PCI_CFC) == (id & 0xffff) && inw(PCI_CFC + 2) == id >> 16 &&
		      inb(PCI_CFC + 1) == ((id >> 8) & 0xff),
	      "byte and word reads of CONFIG_DATA");
	check(mmio_r16(ecam + 2) == id >> 16 && mmio_r8(ecam + 3) == id >> 24,
	      "byte and word reads of ECAM");
	finish();
}
