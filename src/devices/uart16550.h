/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART on COM1, wired to the console's character backend. See
 * uart16550.c for the model and its locking.
 */
#ifndef MICA_DEVICES_UART16550_H
#define MICA_DEVICES_UART16550_H

#include "devices/device.h"

/* The 8 registers of a PC COM port, at PORT_COM1. */
#define UART_NR_PORTS 8
/* Receive FIFO depth of a 16550A. */
#define UART_FIFO_LEN 16
/*
 * Bytes the transmitter holds for a backend that is full. The guest sees
 * THRE clear while any are held; beyond this a guest that ignores THRE loses
 * bytes (and a log line says so).
 */
#define UART_TX_BUF 4096

extern const struct device_type uart16550_type;

#endif
