/* SPDX-License-Identifier: MIT */
/*
 * Register layout of the virtio 1.x modern PCI transport (virtio 1.x,
 * section 4.1) as mica lays it out: the spec's constants, and where each
 * structure sits in the device's one memory BAR. The transport is
 * virtio_pci.c; devices use virtio.h. Tests and test guests use this file to
 * play the driver.
 */
#ifndef MICA_VIRTIO_VIRTIO_PCI_H
#define MICA_VIRTIO_VIRTIO_PCI_H

/* PCI identity (4.1.2). */
#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + VIRTIO_ID_* */
#define VIRTIO_PCI_SUBSYS_BASE 0x40 /* + VIRTIO_ID_*: >= 0x40, modern */
#define VIRTIO_PCI_REVISION 1

/* Vendor-specific capability (cap id 0x09) types (4.1.4). */
#define VIRTIO_PCI_CAP_ID 0x09
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5

/*
 * struct virtio_pci_cap, offsets from the capability's start: cap_vndr,
 * cap_next, cap_len, cfg_type, bar, id, padding[2], offset (le32), length
 * (le32); NOTIFY_CFG adds notify_off_multiplier (le32), PCI_CFG adds
 * pci_cfg_data[4].
 */
#define VIRTIO_PCI_CAP_LEN_OFF 2
#define VIRTIO_PCI_CAP_TYPE_OFF 3
#define VIRTIO_PCI_CAP_BAR_OFF 4
#define VIRTIO_PCI_CAP_ID_OFF 5
#define VIRTIO_PCI_CAP_OFFSET_OFF 8
#define VIRTIO_PCI_CAP_LENGTH_OFF 12
#define VIRTIO_PCI_CAP_MULT_OFF 16 /* NOTIFY_CFG */
#define VIRTIO_PCI_CAP_DATA_OFF 16 /* PCI_CFG */
#define VIRTIO_PCI_CAP_SIZE 16
#define VIRTIO_PCI_NOTIFY_CAP_SIZE 20
#define VIRTIO_PCI_CFG_CAP_SIZE 20

/* struct virtio_pci_common_cfg (4.1.4.3). */
#define VIRTIO_PCI_COMMON_DFSELECT 0x00 /* le32 device_feature_select */
#define VIRTIO_PCI_COMMON_DF 0x04 /* le32 device_feature, RO */
#define VIRTIO_PCI_COMMON_GFSELECT 0x08 /* le32 driver_feature_select */
#define VIRTIO_PCI_COMMON_GF 0x0c /* le32 driver_feature */
#define VIRTIO_PCI_COMMON_MSIX 0x10 /* le16 config_msix_vector */
#define VIRTIO_PCI_COMMON_NUMQ 0x12 /* le16 num_queues, RO */
#define VIRTIO_PCI_COMMON_STATUS 0x14 /* u8 device_status */
#define VIRTIO_PCI_COMMON_CFGGEN 0x15 /* u8 config_generation, RO */
#define VIRTIO_PCI_COMMON_Q_SELECT 0x16 /* le16 */
#define VIRTIO_PCI_COMMON_Q_SIZE 0x18 /* le16 */
#define VIRTIO_PCI_COMMON_Q_MSIX 0x1a /* le16 */
#define VIRTIO_PCI_COMMON_Q_ENABLE 0x1c /* le16 */
#define VIRTIO_PCI_COMMON_Q_NOFF 0x1e /* le16 queue_notify_off, RO */
#define VIRTIO_PCI_COMMON_Q_DESCLO 0x20 /* le64 as two le32 halves */
#define VIRTIO_PCI_COMMON_Q_DESCHI 0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO 0x28 /* queue_driver */
#define VIRTIO_PCI_COMMON_Q_AVAILHI 0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO 0x30 /* queue_device */
#define VIRTIO_PCI_COMMON_Q_USEDHI 0x34
#define VIRTIO_PCI_COMMON_SIZE 0x38

/* device_status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* ISR status bits (4.1.4.5). */
#define VIRTIO_ISR_QUEUE 0x01
#define VIRTIO_ISR_CONFIG 0x02

#define VIRTIO_MSI_NO_VECTOR 0xffff

/*
 * mica's BAR 0 (32-bit memory, not prefetchable): one 4 KiB page per
 * structure, so a driver may map each on its own. Queue q's notification
 * address is VIRTIO_PCI_NOTIFY_OFF + q * VIRTIO_PCI_NOTIFY_MULT. The MSI-X
 * table (num_queues + 1 vectors: one per queue, one for configuration
 * changes) and its PBA are served by the PCI host.
 */
#define VIRTIO_PCI_BAR 0
#define VIRTIO_PCI_BAR_SIZE 0x8000
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_ISR_OFF 0x1000
#define VIRTIO_PCI_ISR_SIZE 1
#define VIRTIO_PCI_DEVICE_OFF 0x2000
#define VIRTIO_PCI_DEVICE_MAX 0x1000 /* largest config_size */
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4
#define VIRTIO_PCI_MSIX_TABLE_OFF 0x4000
#define VIRTIO_PCI_MSIX_PBA_OFF 0x5000

#endif
