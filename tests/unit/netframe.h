/* SPDX-License-Identifier: MIT */
/*
 * Ethernet frames for the network tests (test_net_backend.c,
 * test_virtio_net.c): ARP and a DHCP DISCOVER as a guest at 10.0.2.15
 * would send them, and the byte helpers to read what comes back.
 */
#ifndef MICA_TESTS_UNIT_NETFRAME_H
#define MICA_TESTS_UNIT_NETFRAME_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The Internet checksum of p: 0 over a header with a valid one. */
static inline uint16_t ip_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline void eth_hdr(uint8_t *f, const uint8_t *dst, const uint8_t *src,
			   uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
}

/* An ARP request from 10.0.2.15 (mac) for tip. Returns its length. */
static inline size_t arp_request(uint8_t *f, const uint8_t *mac,
				 const char *tip)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *a = f + 14;

	memset(f, 0, 60);
	eth_hdr(f, bcast, mac, 0x0806);
	put16(a, 1); /* Ethernet */
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1); /* request */
	memcpy(a + 8, mac, 6);
	inet_pton(AF_INET, "10.0.2.15", a + 14);
	inet_pton(AF_INET, tip, a + 24);
	return 60;
}

/* The reply to ARP request req: we (mac) have the address it asked for. */
static inline size_t arp_reply(uint8_t *f, const uint8_t *mac,
			       const uint8_t *req)
{
	uint8_t *a = f + 14;

	memset(f, 0, 60);
	eth_hdr(f, req + 6, mac, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 2);
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, req + 14 + 24, 4); /* the address asked for */
	memcpy(a + 18, req + 14 + 8, 10); /* the asker's MAC and IP */
	return 60;
}

/* A DHCP DISCOVER from mac, xid 0x12345678. Returns its length. */
static inline size_t dhcp_discover(uint8_t *f, const uint8_t *mac)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *ip = f + 14, *udp = ip + 20, *b = udp + 8, *opt;
	size_t blen = 240 + 4, ulen = 8 + blen, ilen = 20 + ulen;

	memset(f, 0, 14 + ilen);
	eth_hdr(f, bcast, mac, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)ilen);
	ip[8] = 64;
	ip[9] = 17; /* UDP */
	memset(ip + 16, 0xff, 4); /* to 255.255.255.255 from 0.0.0.0 */
	put16(ip + 10, ip_csum(ip, 20));
	put16(udp, 68);
	put16(udp + 2, 67);
	put16(udp + 4, (uint16_t)ulen);
	b[0] = 1; /* BOOTREQUEST */
	b[1] = 1;
	b[2] = 6;
	memcpy(b + 4, "\x12\x34\x56\x78", 4); /* xid */
	memcpy(b + 28, mac, 6);
	memcpy(b + 236, "\x63\x82\x53\x63", 4); /* magic cookie */
	opt = b + 240;
	opt[0] = 53; /* message type */
	opt[1] = 1;
	opt[2] = 1; /* DISCOVER */
	opt[3] = 255;
	return 14 + ilen;
}

/*
 * Whether frame f (len bytes) is a DHCP OFFER of 10.0.2.15 for xid
 * 0x12345678 from 10.0.2.2 naming DNS 10.0.2.3, with a valid IP checksum.
 */
static inline bool dhcp_is_offer(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *b = ip + 28, *o;
	uint8_t yiaddr[4], server[4], dns[4];
	bool offer = false, has_dns = false;

	if (len < 14 + 28 + 240 || get16(f + 12) != 0x0800 || ip[9] != 17 ||
	    get16(ip + 22) != 68 || ip_csum(ip, 20) != 0)
		return false;
	inet_pton(AF_INET, "10.0.2.15", yiaddr);
	inet_pton(AF_INET, "10.0.2.2", server);
	inet_pton(AF_INET, "10.0.2.3", dns);
	if (b[0] != 2 || memcmp(b + 4, "\x12\x34\x56\x78", 4) ||
	    memcmp(b + 16, yiaddr, 4) || memcmp(ip + 12, server, 4))
		return false;
	for (o = b + 240; o + 1 < f + len && *o != 255;
	     o += o[0] ? 2 + o[1] : 1) {
		if (o[0] == 53 && o[2] == 2)
			offer = true;
		if (o[0] == 6 && o[1] >= 4 && !memcmp(o + 2, dns, 4))
			has_dns = true;
	}
	return offer && has_dns;
}

#endif
