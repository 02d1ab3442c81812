// SPDX-License-Identifier: MIT
/*
 * Guest "virtio_blk": drives mica's virtio-blk through the virtio 1.x
 * modern PCI transport the way a minimal driver does (virtio 1.x, 3.1 and
 * 4.1, and 5.2 for the block device). Tests that
 *  - the function 1af4:1042 is on bus 0 (CF8/CFC) with a memory BAR;
 *  - its vendor capabilities give the common, notify, ISR and device
 *    configuration structures inside that BAR;
 *  - reset, ACKNOWLEDGE, DRIVER, feature negotiation (VERSION_1, and FLUSH
 *    if offered), FEATURES_OK and DRIVER_OK work, with one queue of 8
 *    entries whose rings are in guest RAM;
 *  - the capacity in the device configuration is the image's (run.sh gives
 *    sectors=N on the command line);
 *  - sector 0 reads back what run.sh wrote ("mica-blk-sector0" then
 *    zeroes), and a write of sector 1 (then a FLUSH) completes with
 *    VIRTIO_BLK_S_OK; run.sh then checks sector 1 of the image;
 *  - a reset at the end reads back status 0.
 * No interrupts: the guest polls the used ring (bounded). Exits 0 on
 * success.
 */
#include "lib/guest.h"

#define PCI_CF8 0xcf8
#define PCI_CFC 0xcfc

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_BLK_DEVICE 0x1042

/* virtio_pci_cap cfg_type */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* struct virtio_pci_common_cfg */
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_STATUS 0x14
#define C_Q_SELECT 0x16
#define C_Q_SIZE 0x18
#define C_Q_MSIX 0x1a
#define C_Q_ENABLE 0x1c
#define C_Q_NOFF 0x1e
#define C_Q_DESC 0x20
#define C_Q_DRIVER 0x28
#define C_Q_DEVICE 0x30

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40

#define F_BLK_FLUSH 9
#define F_VERSION_1 32

#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_S_OK 0

#define QSIZE 8
#define D_NEXT 1
#define D_WRITE 2

struct desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

struct blk_req {
	u32 type;
	u32 reserved;
	u64 sector;
};

/* The rings and buffers: in the guest's .bss, which is RAM. */
static struct desc ring_desc[QSIZE] __attribute__((aligned(16)));
static volatile u16 ring_avail[2 + QSIZE + 1] __attribute__((aligned(2)));
static volatile u32 ring_used[1 + 2 * QSIZE + 1] __attribute__((aligned(4)));
static struct blk_req req __attribute__((aligned(16)));
static u8 data[512] __attribute__((aligned(512)));
static volatile u8 status;

static u32 common, notify, isr, device, notify_mult;
static u16 avail_idx, used_seen;

static u32 cfg_read(u32 dev, u32 reg)
{
	outl(PCI_CF8, 0x80000000u | dev << 11 | (reg & 0xfc));
	return inl(PCI_CFC) >> (8 * (reg & 3));
}

static void cfg_write16(u32 dev, u32 reg, u16 v)
{
	outl(PCI_CF8, 0x80000000u | dev << 11 | (reg & 0xfc));
	outw(PCI_CFC + (reg & 2), v);
}

static void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

static u8 get_status(void)
{
	return mmio_r8(common + C_STATUS);
}

static void set_status(u8 bits)
{
	mmio_w8(common + C_STATUS, get_status() | bits);
}

/* Finds the device's BAR 0 and capabilities; 0 on success. */
static int find_device(u32 *slot)
{
	u32 dev, cap, bar, n = 0;

	for (dev = 0; dev < 32; dev++)
		if (cfg_read(dev, 0) ==
		    (VIRTIO_VENDOR | (u32)VIRTIO_BLK_DEVICE << 16))
			break;
	if (dev == 32)
		return -1;
	*slot = dev;
	printf("virtio_blk: found 1af4:1042 at 00:%02x.0\n", dev);
	bar = cfg_read(dev, 0x10);
	check(!(bar & 1), "BAR 0 is a memory BAR");
	bar &= ~0xfu;
	/* Memory decoding and bus mastering on (the device does DMA). */
	cfg_write16(dev, 0x04, (u16)(cfg_read(dev, 0x04) | 0x6));
	check(cfg_read(dev, 0x06) & 0x10, "capability list present");
	for (cap = cfg_read(dev, 0x34) & 0xfc; cap && n < 32;
	     cap = cfg_read(dev, cap + 1) & 0xfc, n++) {
		u32 type, off;

		if ((cfg_read(dev, cap) & 0xff) != 0x09)
			continue;
		type = cfg_read(dev, cap + 3) & 0xff;
		off = cfg_read(dev, cap + 8);
		if ((cfg_read(dev, cap + 4) & 0xff) != 0)
			continue; /* only BAR 0 here */
		if (type == CAP_COMMON && !common)
			common = bar + off;
		else if (type == CAP_NOTIFY && !notify) {
			notify = bar + off;
			notify_mult = cfg_read(dev, cap + 16);
		} else if (type == CAP_ISR && !isr)
			isr = bar + off;
		else if (type == CAP_DEVICE && !device)
			device = bar + off;
	}
	check(common && notify && isr && device,
	      "common, notify, ISR and device capabilities in BAR 0");
	return common && notify && isr && device ? 0 : -1;
}

/* Posts a chain of n descriptors, notifies, polls the used ring. */
static int run_chain(unsigned int n)
{
	u32 i;

	for (i = 0; i + 1 < n; i++) {
		ring_desc[i].flags |= D_NEXT;
		ring_desc[i].next = (u16)(i + 1);
	}
	ring_avail[2 + avail_idx % QSIZE] = 0;
	barrier();
	avail_idx++;
	ring_avail[1] = avail_idx;
	barrier();
	mmio_w16(notify + mmio_r16(common + C_Q_NOFF) * notify_mult, 0);
	for (i = 0; i < 2000000; i++) {
		if ((u16)(ring_used[0] >> 16) != used_seen)
			break;
		cpu_relax();
	}
	if ((u16)(ring_used[0] >> 16) == used_seen)
		return -1;
	used_seen++;
	barrier();
	return 0;
}

static void set_desc(unsigned int i, void *p, u32 len, u16 flags)
{
	ring_desc[i] = (struct desc){
		.addr = (u32)(uptr)p,
		.len = len,
		.flags = flags,
	};
}

static int blk_io(u32 type, u32 sector, int with_data)
{
	unsigned int n = 0;

	req = (struct blk_req){ .type = type, .sector = sector };
	status = 0xff;
	set_desc(n++, &req, sizeof(req), 0);
	if (with_data)
		set_desc(n++, data, sizeof(data),
			 type == BLK_T_IN ? D_WRITE : 0);
	set_desc(n++, (void *)&status, 1, D_WRITE);
	if (run_chain(n)) {
		check(0, "request completed");
		return -1;
	}
	return status;
}

static void write64(u32 off, u64 v)
{
	mmio_w32(common + off, (u32)v);
	mmio_w32(common + off + 4, (u32)(v >> 32));
}

int main(struct hvm_start_info *si)
{
	static const char sig0[] = "mica-blk-sector0";
	static const char sig1[] = "mica-blk-sector1 written by the guest";
	char arg[16];
	u32 slot, i, nz = 0, want_sectors = 0;
	u64 offered, features, capacity;

	guest_name = "virtio_blk";
	if (cmdline_get(pvh_cmdline(si), "sectors", arg, sizeof(arg)))
		want_sectors = parse_u32(arg);
	if (find_device(&slot))
		fail("no virtio-blk device with its capabilities");

	/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK. */
	mmio_w8(common + C_STATUS, 0);
	check(get_status() == 0, "status 0 after reset");
	set_status(S_ACK);
	set_status(S_DRIVER);
	mmio_w32(common + C_DFSELECT, 0);
	offered = mmio_r32(common + C_DF);
	mmio_w32(common + C_DFSELECT, 1);
	offered |= (u64)mmio_r32(common + C_DF) << 32;
	printf("virtio_blk: device features %llx\n", offered);
	check(offered >> F_VERSION_1 & 1, "VERSION_1 offered");
	features = 1ull << F_VERSION_1 | (offered & 1ull << F_BLK_FLUSH);
	mmio_w32(common + C_GFSELECT, 0);
	mmio_w32(common + C_GF, (u32)features);
	mmio_w32(common + C_GFSELECT, 1);
	mmio_w32(common + C_GF, (u32)(features >> 32));
	set_status(S_FEATURES_OK);
	if (!(get_status() & S_FEATURES_OK))
		fail("FEATURES_OK did not stick (status %x)", get_status());

	/* Queue 0 (4.1.5.1.3), no MSI-X vector: the guest polls. */
	mmio_w16(common + C_Q_SELECT, 0);
	check(mmio_r16(common + C_Q_SIZE) >= QSIZE, "queue 0 has 8 entries");
	mmio_w16(common + C_Q_SIZE, QSIZE);
	mmio_w16(common + C_Q_MSIX, 0xffff);
	write64(C_Q_DESC, (u32)(uptr)ring_desc);
	write64(C_Q_DRIVER, (u32)(uptr)ring_avail);
	write64(C_Q_DEVICE, (u32)(uptr)ring_used);
	mmio_w16(common + C_Q_ENABLE, 1);
	check(mmio_r16(common + C_Q_ENABLE) == 1, "queue 0 enabled");
	set_status(S_DRIVER_OK);
	if (get_status() & S_NEEDS_RESET || !(get_status() & S_DRIVER_OK))
		fail("DRIVER_OK refused (status %x)", get_status());

	capacity = mmio_r32(device) | (u64)mmio_r32(device + 4) << 32;
	printf("virtio_blk: capacity %llu sectors\n", capacity);
	if (want_sectors)
		check(capacity == want_sectors, "capacity matches the image");

	/* Read sector 0. */
	memset(data, 0xaa, sizeof(data));
	check(blk_io(BLK_T_IN, 0, 1) == BLK_S_OK, "read of sector 0: OK");
	check(!strncmp((const char *)data, sig0, sizeof(sig0) - 1),
	      "sector 0 starts with mica-blk-sector0");
	for (i = sizeof(sig0) - 1; i < sizeof(data); i++)
		nz += data[i] != 0;
	check(nz == 0, "the rest of sector 0 is zeroes");

	/* Write sector 1, then flush it. */
	memset(data, 0, sizeof(data));
	memcpy(data, sig1, sizeof(sig1) - 1);
	for (i = 64; i < sizeof(data); i++)
		data[i] = (u8)i;
	check(blk_io(BLK_T_OUT, 1, 1) == BLK_S_OK, "write of sector 1: OK");
	if (features >> F_BLK_FLUSH & 1)
		check(blk_io(BLK_T_FLUSH, 0, 0) == BLK_S_OK, "flush: OK");

	/* Read it back through the device. */
	memset(data, 0, sizeof(data));
	check(blk_io(BLK_T_IN, 1, 1) == BLK_S_OK, "read of sector 1: OK");
	check(!strncmp((const char *)data, sig1, sizeof(sig1) - 1) &&
		      data[200] == 200,
	      "sector 1 reads back what was written");

	mmio_w8(common + C_STATUS, 0);
	check(get_status() == 0, "status 0 after the final reset");
	finish();
}
