// SPDX-License-Identifier: MIT
/*
 * Network backends (src/backends/slirp.c, tap.c) on their own, without a
 * device: a tiny "port" here plays the device's I/O thread (it polls what
 * the backend watches and counts rx_ready/tx_ready calls).
 *
 * slirp answers ARP and DHCP itself, so those need no network; hostfwd is
 * checked with a real connection to a listening host port. The tap cases
 * need CAP_NET_ADMIN and /dev/net/tun and pass as skipped without them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends/net.h"
#include "backends/slirp.h"
#include "backends/tap.h"
#include "config/config.h"
#include "unit/netframe.h"
#include "unit/test.h"
#include "util/log.h"

#define WAIT_MS 5000 /* bounds a failing test only */

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* ---- a port on the test thread ---- */

struct tport {
	struct net_port port;
	struct {
		int fd;
		uint32_t events;
		loop_fn fn;
		void *opaque;
	} w[4];
	unsigned int nr_w;
	unsigned int rx_ready, tx_ready;
};

static int tp_watch(void *opaque, int fd, uint32_t events, loop_fn fn,
		    void *fn_opaque)
{
	struct tport *tp = opaque;

	if (tp->nr_w == 4)
		return -ENOSPC;
	tp->w[tp->nr_w].fd = fd;
	tp->w[tp->nr_w].events = events;
	tp->w[tp->nr_w].fn = fn;
	tp->w[tp->nr_w].opaque = fn_opaque;
	tp->nr_w++;
	return 0;
}

static void tp_unwatch(void *opaque, int fd)
{
	struct tport *tp = opaque;
	unsigned int i;

	for (i = 0; i < tp->nr_w; i++) {
		if (tp->w[i].fd == fd) {
			tp->w[i] = tp->w[--tp->nr_w];
			return;
		}
	}
}

static void tp_rx_ready(void *opaque)
{
	((struct tport *)opaque)->rx_ready++;
}

static void tp_tx_ready(void *opaque)
{
	((struct tport *)opaque)->tx_ready++;
}

static void tp_init(struct tport *tp)
{
	memset(tp, 0, sizeof(*tp));
	tp->port = (struct net_port){
		.watch = tp_watch,
		.unwatch = tp_unwatch,
		.rx_ready = tp_rx_ready,
		.tx_ready = tp_tx_ready,
		.opaque = tp,
	};
}

/* Waits up to ms for a watched fd and dispatches what fired. */
static void tp_poll(struct tport *tp, int ms)
{
	struct pollfd p[4];
	unsigned int i, n = tp->nr_w;

	for (i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = tp->w[i].fd,
					.events = (short)tp->w[i].events };
	if (poll(p, n, ms) <= 0)
		return;
	for (i = 0; i < n && i < tp->nr_w; i++)
		if (p[i].revents)
			tp->w[i].fn(tp->w[i].opaque, (uint32_t)p[i].revents);
}

/* Sends frame f with a zero header. */
static int be_send(struct netbe *be, const void *f, size_t len)
{
	struct virtio_net_hdr_v1 hdr = { .flags = 0 };
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)f, .iov_len = len },
	};

	return be->ops->send(be, iov, 2);
}

/* Receives one frame (header stripped) into f. Returns its length or <0. */
static ssize_t be_recv(struct netbe *be, uint8_t *f, size_t size,
		       struct virtio_net_hdr_v1 *hdr)
{
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(*hdr) },
		{ .iov_base = f, .iov_len = size },
	};
	ssize_t r = be->ops->recv(be, iov, 2);

	return r < 0 ? r : r - (ssize_t)NET_HDR_LEN;
}

static struct netbe *slirp_up(struct tport *tp, const struct net_config *nc)
{
	struct netbe *be = NULL;
	char err[256] = "";
	int r;

	tp_init(tp);
	r = net_slirp_new(&be, nc, err, sizeof(err));
	CHECK_EQ(r, 0);
	if (r) {
		printf("  %s\n", err);
		return NULL;
	}
	CHECK_EQ(be->ops->attach(be, &tp->port), 0);
	be->ops->rx_enable(be, true);
	return be;
}

static void test_slirp_caps(void)
{
	struct net_config nc = { .backend = NET_USER };
	struct tport tp;
	struct netbe *be = slirp_up(&tp, &nc);

	if (!be)
		return;
	CHECK(!be->offloads); /* slirp wants whole frames, valid checksums */
	CHECK_EQ(be->mtu, 1500);
	CHECK_STR(be->kind, "user");
	CHECK_EQ(be->ops->set_offloads(be, 0), 0);
	CHECK(be->ops->set_offloads(be, NET_OFFLOAD_CSUM) < 0);
	CHECK_EQ(be->ops->recv(be, NULL, 0), -EAGAIN);
	CHECK_EQ(be->ops->peek(be), -EAGAIN);
	be->ops->destroy(be);
}

static void test_slirp_arp(void)
{
	struct net_config nc = { .backend = NET_USER };
	struct virtio_net_hdr_v1 hdr;
	uint8_t f[2048], want_ip[4];
	bool got = false;
	struct tport tp;
	struct netbe *be = slirp_up(&tp, &nc);
	uint64_t end = clock_ns() + WAIT_MS * 1000000ull;

	if (!be)
		return;
	CHECK_EQ(be_send(be, f, arp_request(f, guest_mac, "10.0.2.2")), 0);
	inet_pton(AF_INET, "10.0.2.2", want_ip);
	while (!got && clock_ns() < end) {
		ssize_t n;

		tp_poll(&tp, 100);
		while ((n = be_recv(be, f, sizeof(f), &hdr)) > 0) {
			if (n < 42 || get16(f + 12) != 0x0806)
				continue;
			CHECK_EQ(get16(f + 14 + 6), 2); /* reply */
			CHECK(!memcmp(f + 14 + 14, want_ip, 4));
			CHECK(!memcmp(f + 14 + 18, guest_mac, 6));
			CHECK(!memcmp(f, guest_mac, 6));
			CHECK_EQ(hdr.flags, 0);
			CHECK_EQ(hdr.gso_type, 0);
			got = true;
		}
	}
	CHECK(got);
	CHECK(tp.rx_ready > 0);
	be->ops->destroy(be);
}

/* DISCOVER -> OFFER of 10.0.2.15 from 10.0.2.2, with DNS 10.0.2.3. */
static void test_slirp_dhcp_offer(void)
{
	struct net_config nc = { .backend = NET_USER };
	struct virtio_net_hdr_v1 hdr;
	uint8_t f[2048], yiaddr[4], server[4], dns[4];
	bool got = false;
	struct tport tp;
	struct netbe *be = slirp_up(&tp, &nc);
	uint64_t end = clock_ns() + WAIT_MS * 1000000ull;

	if (!be)
		return;
	CHECK_EQ(be_send(be, f, dhcp_discover(f, guest_mac)), 0);
	inet_pton(AF_INET, "10.0.2.15", yiaddr);
	inet_pton(AF_INET, "10.0.2.2", server);
	inet_pton(AF_INET, "10.0.2.3", dns);
	while (!got && clock_ns() < end) {
		ssize_t n;

		tp_poll(&tp, 100);
		while ((n = be_recv(be, f, sizeof(f), &hdr)) > 0) {
			const uint8_t *ip = f + 14, *b = ip + 28, *o;
			bool offer = false, has_dns = false;

			if (n < 14 + 28 + 240 || get16(f + 12) != 0x0800 ||
			    ip[9] != 17 || get16(ip + 22) != 68)
				continue;
			CHECK_EQ(ip_csum(ip, 20), 0); /* a valid checksum */
			CHECK_EQ(b[0], 2); /* BOOTREPLY */
			CHECK(!memcmp(b + 4, "\x12\x34\x56\x78", 4));
			CHECK(!memcmp(b + 16, yiaddr, 4));
			CHECK(!memcmp(ip + 12, server, 4));
			for (o = b + 240; o < f + n && *o != 255;
			     o += o[0] ? 2 + o[1] : 1) {
				if (o[0] == 53 && o[2] == 2)
					offer = true;
				if (o[0] == 6 && o[1] >= 4 &&
				    !memcmp(o + 2, dns, 4))
					has_dns = true;
			}
			CHECK(offer);
			CHECK(has_dns);
			got = true;
		}
	}
	CHECK(got);
	be->ops->destroy(be);
}

/* A TCP socket listening on a free port; its port in *port. */
static int listen_any(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(s, 1) || getsockname(s, (struct sockaddr *)&a, &alen)) {
		if (s >= 0)
			close(s);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return s;
}

static void test_slirp_hostfwd_busy(void)
{
	struct net_config nc = { .backend = NET_USER, .nr_hostfwd = 1 };
	struct netbe *be = (struct netbe *)&nc; /* must become NULL */
	char err[256] = "", want[128];
	uint16_t port;
	int s = listen_any(&port), r;

	CHECK(s >= 0);
	if (s < 0)
		return;
	nc.hostfwd[0] =
		(struct net_hostfwd){ .host_port = port, .guest_port = 80 };
	r = net_slirp_new(&be, &nc, err, sizeof(err));
	CHECK_EQ(r, -EADDRINUSE);
	CHECK(be == NULL);
	snprintf(want, sizeof(want),
		 "--net hostfwd: cannot listen on TCP port %u: Address "
		 "already in use",
		 port);
	CHECK_STR(err, want);
	if (!r)
		be->ops->destroy(be);
	close(s);
}

/*
 * A host connection to a hostfwd port reaches the guest: slirp asks who
 * 10.0.2.15 is, then sends a SYN to the guest port.
 */
static void test_slirp_hostfwd_connect(void)
{
	struct net_config nc = { .backend = NET_USER, .nr_hostfwd = 1 };
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct virtio_net_hdr_v1 hdr;
	uint8_t f[2048], out[64], gip[4];
	bool syn = false;
	struct tport tp;
	struct netbe *be;
	uint16_t port;
	int s = listen_any(&port), c;
	uint64_t end = clock_ns() + WAIT_MS * 1000000ull;

	/* A free port: the one we had, once closed. */
	CHECK(s >= 0);
	if (s < 0)
		return;
	close(s);
	nc.hostfwd[0] = (struct net_hostfwd){ .host_addr = htonl(0x7f000001),
					      .host_port = port,
					      .guest_port = 2222 };
	be = slirp_up(&tp, &nc);
	if (!be)
		return;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(0x7f000001);
	CHECK(c >= 0);
	CHECK(connect(c, (struct sockaddr *)&a, sizeof(a)) == 0 ||
	      errno == EINPROGRESS);
	inet_pton(AF_INET, "10.0.2.15", gip);
	while (!syn && clock_ns() < end) {
		ssize_t n;

		tp_poll(&tp, 50);
		while ((n = be_recv(be, f, sizeof(f), &hdr)) > 0) {
			const uint8_t *ip = f + 14, *tcp = ip + 20;

			if (get16(f + 12) == 0x0806 && get16(f + 20) == 1 &&
			    !memcmp(f + 38, gip, 4)) {
				CHECK_EQ(be_send(be, out,
						 arp_reply(out, guest_mac, f)),
					 0);
				continue;
			}
			if (n < 54 || get16(f + 12) != 0x0800 || ip[9] != 6)
				continue;
			CHECK(!memcmp(ip + 16, gip, 4));
			CHECK(!memcmp(f, guest_mac, 6));
			CHECK_EQ(get16(tcp + 2), 2222);
			CHECK(tcp[13] & 0x02); /* SYN */
			syn = true;
		}
	}
	CHECK(syn);
	close(c);
	be->ops->destroy(be);
}

/* A TCP segment from the guest (10.0.2.15:40000) to 10.0.2.2:dport. */
static size_t tcp_frame(uint8_t *f, uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, const uint8_t *data, size_t len)
{
	static const uint8_t gw[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
	uint8_t *ip = f + 14, *tcp = ip + 20, ph[12 + 24 + 1024];
	size_t hl = flags & 0x02 ? 24 : 20, tl = hl + len;

	memset(f, 0, 14 + 20 + hl);
	eth_hdr(f, gw, guest_mac, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tl));
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	inet_pton(AF_INET, "10.0.2.15", ip + 12);
	inet_pton(AF_INET, "10.0.2.2", ip + 16);
	put16(ip + 10, ip_csum(ip, 20));
	put16(tcp, 40000);
	put16(tcp + 2, dport);
	put16(tcp + 4, (uint16_t)(seq >> 16));
	put16(tcp + 6, (uint16_t)seq);
	put16(tcp + 8, (uint16_t)(ack >> 16));
	put16(tcp + 10, (uint16_t)ack);
	tcp[12] = (uint8_t)(hl / 4 << 4);
	tcp[13] = flags;
	put16(tcp + 14, 65535);
	if (hl == 24) { /* MSS 1460 */
		tcp[20] = 2;
		tcp[21] = 4;
		put16(tcp + 22, 1460);
	}
	if (len)
		memcpy(tcp + hl, data, len);
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	put16(ph + 10, (uint16_t)tl);
	memcpy(ph + 12, tcp, tl);
	put16(tcp + 16, ip_csum(ph, 12 + tl));
	return 14 + 20 + tl;
}

/*
 * A guest's TCP connection to the host (10.0.2.2 is its loopback): slirp
 * connects a host socket, answers the SYN, writes 64 KiB of data to the
 * host in order and ACKs all of it. Covers slirp's sockets coming and going
 * in the I/O thread's polling (connect completion, writes).
 */
static void test_slirp_tcp_to_host(void)
{
	struct net_config nc = { .backend = NET_USER };
	struct virtio_net_hdr_v1 hdr;
	uint8_t f[2048], out[2048], data[1024], got[1024];
	uint32_t iss = 1000, snd = iss + 1, acked = 0, irs = 0;
	size_t total = 64 * 1024, sent = 0, recvd = 0;
	bool established = false, bad = false;
	struct tport tp;
	struct netbe *be;
	uint16_t port;
	int l = listen_any(&port), c = -1;
	uint64_t end = clock_ns() + WAIT_MS * 1000000ull;

	CHECK(l >= 0);
	if (l < 0)
		return;
	be = slirp_up(&tp, &nc);
	if (!be) {
		close(l);
		return;
	}
	CHECK_EQ(be_send(be, f, tcp_frame(f, port, iss, 0, 0x02, NULL, 0)), 0);
	while ((recvd < total || acked != snd) && clock_ns() < end) {
		ssize_t n;

		tp_poll(&tp, 20);
		while ((n = be_recv(be, f, sizeof(f), &hdr)) > 0) {
			const uint8_t *ip = f + 14, *tcp = ip + 20;
			uint32_t seq, ack;

			if (get16(f + 12) == 0x0806 && get16(f + 20) == 1) {
				CHECK_EQ(be_send(be, out,
						 arp_reply(out, guest_mac, f)),
					 0);
				continue;
			}
			if (n < 54 || get16(f + 12) != 0x0800 || ip[9] != 6 ||
			    get16(tcp) != port)
				continue;
			seq = (uint32_t)get16(tcp + 4) << 16 | get16(tcp + 6);
			ack = (uint32_t)get16(tcp + 8) << 16 | get16(tcp + 10);
			if ((tcp[13] & 0x12) == 0x12 && !established) {
				CHECK_EQ(ack, iss + 1);
				irs = seq;
				established = true;
				acked = ack;
				CHECK_EQ(be_send(be, out,
						 tcp_frame(out, port, snd,
							   irs + 1, 0x10, NULL,
							   0)),
					 0);
			} else if (tcp[13] & 0x10) {
				if (ack - acked <= snd - acked)
					acked = ack;
			}
		}
		/* At most 16 KiB unacknowledged: within slirp's window. */
		while (established && sent < total && snd - acked < 16384) {
			size_t i;

			for (i = 0; i < sizeof(data); i++)
				data[i] = (uint8_t)((sent + i) * 7);
			CHECK_EQ(be_send(be, out,
					 tcp_frame(out, port, snd, irs + 1,
						   0x18, data, sizeof(data))),
				 0);
			sent += sizeof(data);
			snd += sizeof(data);
		}
		if (c < 0) {
			struct pollfd p = { .fd = l, .events = POLLIN };

			if (poll(&p, 1, 0) == 1)
				c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
		}
		while (c >= 0 && (n = read(c, got, sizeof(got))) > 0) {
			ssize_t i;

			for (i = 0; i < n; i++)
				if (got[i] != (uint8_t)((recvd + i) * 7))
					bad = true;
			recvd += (size_t)n;
		}
	}
	CHECK(established);
	CHECK(c >= 0);
	CHECK_EQ(recvd, total);
	CHECK(!bad);
	CHECK_EQ(acked, snd); /* everything acknowledged */
	CHECK_EQ(be->stats.rx_dropped, 0);
	if (c >= 0)
		close(c);
	close(l);
	be->ops->destroy(be);
}

/* rx backpressure: frames wait in the backend until the device takes them. */
static void test_slirp_rx_off_keeps_frames(void)
{
	struct net_config nc = { .backend = NET_USER };
	struct virtio_net_hdr_v1 hdr;
	uint8_t f[2048];
	struct tport tp;
	struct netbe *be = slirp_up(&tp, &nc);
	uint64_t end = clock_ns() + WAIT_MS * 1000000ull;
	ssize_t need = -EAGAIN;
	uint8_t tiny[20];
	struct iovec small = { .iov_base = tiny, .iov_len = sizeof(tiny) };

	if (!be)
		return;
	be->ops->rx_enable(be, false);
	CHECK_EQ(be_send(be, f, arp_request(f, guest_mac, "10.0.2.3")), 0);
	while (need < 0 && clock_ns() < end) {
		tp_poll(&tp, 50);
		need = be->ops->peek(be);
	}
	CHECK_EQ(tp.rx_ready, 0); /* rx is off: no calls */
	CHECK(need >= (ssize_t)(NET_HDR_LEN + 42)); /* an ARP reply, padded */
	/* Too small a buffer: the frame stays first in line. */
	CHECK_EQ(be->ops->recv(be, &small, 1), -EMSGSIZE);
	CHECK_EQ(be->ops->peek(be), need);
	CHECK_EQ(be_recv(be, f, sizeof(f), &hdr), need - (ssize_t)NET_HDR_LEN);
	CHECK_EQ(get16(f + 12), 0x0806);
	CHECK_EQ(be->ops->recv(be, NULL, 0), -EAGAIN);
	/* reset drops what waits. */
	CHECK_EQ(be_send(be, f, arp_request(f, guest_mac, "10.0.2.2")), 0);
	need = -EAGAIN;
	while (need < 0 && clock_ns() < end) {
		tp_poll(&tp, 50);
		need = be->ops->peek(be);
	}
	CHECK(need > 0);
	be->ops->reset(be);
	CHECK_EQ(be->ops->peek(be), -EAGAIN);
	be->ops->destroy(be);
}

static void test_slirp_bad_sizes(void)
{
	struct net_config nc = { .backend = NET_USER };
	static uint8_t big[NET_SLIRP_MTU + 100];
	uint8_t f[8] = { 0 };
	struct tport tp;
	struct netbe *be = slirp_up(&tp, &nc);

	if (!be)
		return;
	CHECK_EQ(be_send(be, f, sizeof(f)), -EMSGSIZE);
	CHECK_EQ(be_send(be, big, sizeof(big)), -EMSGSIZE);
	CHECK_EQ(be->stats.tx_dropped, 2);
	be->ops->destroy(be);
}

/* ---- tap ---- */

static bool tap_skip(int r, const char *err)
{
	if (r == -EPERM || r == -EACCES || r == -ENOENT || r == -ENODEV ||
	    r == -EOPNOTSUPP) {
		printf("  skipped: %s\n", err);
		return true;
	}
	return false;
}

static int if_up(const char *name)
{
	struct ifreq ifr = { .ifr_flags = 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

	if (s < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return r;
}

#define TEST_ETHERTYPE 0x88b5 /* IEEE local experimental */

static void test_tap_open_errors(void)
{
	struct netbe *be = NULL;
	char err[256] = "";

	CHECK_EQ(net_tap_new(&be, "", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--net tap") != NULL);
	CHECK_EQ(net_tap_new(&be, "a-name-too-long-for-linux", err,
			     sizeof(err)),
		 -EINVAL);
	CHECK(be == NULL);
}

static void test_tap_frames(void)
{
	static uint8_t f[NET_HDR_LEN + NET_MAX_FRAME];
	struct virtio_net_hdr_v1 hdr;
	struct netbe *be = NULL;
	char err[256] = "", name[IFNAMSIZ];
	uint8_t frame[100], small[64];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct tport tp;
	bool seen = false;
	uint64_t end;
	ssize_t n;
	int r, ps;

	snprintf(name, sizeof(name), "micat%u",
		 (unsigned int)getpid() % 100000);
	r = net_tap_new(&be, name, err, sizeof(err));
	if (tap_skip(r, err))
		return;
	CHECK_EQ(r, 0);
	if (r) {
		printf("  %s\n", err);
		return;
	}
	CHECK(be->offloads);
	CHECK_EQ(be->mtu, 1500);
	CHECK_STR(be->kind, "tap");
	tp_init(&tp);
	CHECK_EQ(be->ops->attach(be, &tp.port), 0);
	CHECK_EQ(be->ops->set_offloads(be, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 |
						   NET_OFFLOAD_TSO6 |
						   NET_OFFLOAD_ECN),
		 0);
	CHECK_EQ(be->ops->set_offloads(be, 0), 0);
	CHECK_EQ(if_up(name), 0);
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	CHECK(ps >= 0);
	if (ps < 0)
		goto out;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(name);
	CHECK(bind(ps, (struct sockaddr *)&sll, sizeof(sll)) == 0);

	/* guest -> tap: the raw socket sees our frame on the interface. */
	memset(frame, 0xab, sizeof(frame));
	eth_hdr(frame, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", guest_mac,
		TEST_ETHERTYPE);
	CHECK_EQ(be_send(be, frame, sizeof(frame)), 0);
	end = clock_ns() + WAIT_MS * 1000000ull;
	while (!seen && clock_ns() < end) {
		struct pollfd p = { .fd = ps, .events = POLLIN };

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(ps, f, sizeof(f), 0);
		if (n == (ssize_t)sizeof(frame) && !memcmp(f, frame, n))
			seen = true;
	}
	CHECK(seen);

	/* host -> guest: a frame sent on the interface comes out of recv. */
	be->ops->rx_enable(be, true);
	frame[20] = 0x5a;
	CHECK_EQ(sendto(ps, frame, sizeof(frame), 0, (struct sockaddr *)&sll,
			sizeof(sll)),
		 (ssize_t)sizeof(frame));
	seen = false;
	end = clock_ns() + WAIT_MS * 1000000ull;
	while (!seen && clock_ns() < end) {
		tp_poll(&tp, 100);
		/* Straight into a buffer with room for any frame. */
		while ((n = be_recv(be, f, sizeof(f) - NET_HDR_LEN, &hdr)) >
		       0) {
			if (n == (ssize_t)sizeof(frame) &&
			    !memcmp(f, frame, sizeof(frame)))
				seen = true;
		}
	}
	CHECK(seen);
	CHECK(tp.rx_ready > 0);

	/* Through the bounce buffer: too small first, then enough. */
	frame[20] = 0x5b;
	CHECK_EQ(sendto(ps, frame, sizeof(frame), 0, (struct sockaddr *)&sll,
			sizeof(sll)),
		 (ssize_t)sizeof(frame));
	seen = false;
	end = clock_ns() + WAIT_MS * 1000000ull;
	while (!seen && clock_ns() < end) {
		struct iovec iov = { .iov_base = small,
				     .iov_len = sizeof(small) };

		tp_poll(&tp, 100);
		for (;;) {
			ssize_t need = be->ops->peek(be);

			if (need < 0)
				break;
			if (need != (ssize_t)(NET_HDR_LEN + sizeof(frame))) {
				be->ops->recv(be, NULL, 0); /* other traffic */
				continue;
			}
			CHECK_EQ(be->ops->recv(be, &iov, 1), -EMSGSIZE);
			n = be_recv(be, f, 200, &hdr);
			CHECK_EQ(n, sizeof(frame));
			CHECK(!memcmp(f, frame, sizeof(frame)));
			seen = true;
			break;
		}
	}
	CHECK(seen);
	close(ps);
out:
	be->ops->reset(be);
	CHECK_EQ(tp.nr_w, 0); /* reset stops watching */
	be->ops->destroy(be);
}

/*
 * The interface is deleted under an attached backend: reads fail with
 * EBADFD and the fd polls as an error forever; the backend must stop
 * watching it rather than spin the device's thread.
 */
static void test_tap_deleted(void)
{
	static uint8_t f[NET_HDR_LEN + NET_MAX_FRAME];
	struct virtio_net_hdr_v1 hdr;
	struct netbe *be = NULL;
	char err[256] = "", name[IFNAMSIZ], cmd[64];
	struct tport tp;
	int r;

	snprintf(name, sizeof(name), "micad%u",
		 (unsigned int)getpid() % 100000);
	r = net_tap_new(&be, name, err, sizeof(err));
	if (tap_skip(r, err))
		return;
	CHECK_EQ(r, 0);
	if (r)
		return;
	tp_init(&tp);
	CHECK_EQ(be->ops->attach(be, &tp.port), 0);
	be->ops->rx_enable(be, true);
	CHECK_EQ(tp.nr_w, 1);
	snprintf(cmd, sizeof(cmd), "ip link delete %s 2>/dev/null", name);
	if (system(cmd) != 0) {
		printf("  skipped: cannot run '%s'\n", cmd);
		be->ops->destroy(be);
		return;
	}
	tp_poll(&tp, 1000);
	CHECK_EQ(tp.rx_ready, 1);
	CHECK_EQ(be_recv(be, f, sizeof(f) - NET_HDR_LEN, &hdr), -EAGAIN);
	CHECK_EQ(tp.nr_w, 0); /* not watched any more */
	be->ops->rx_enable(be, true);
	CHECK_EQ(tp.nr_w, 0);
	be->ops->destroy(be);
}

TEST_SUITE(net_backend, TEST_CASE(test_slirp_caps), TEST_CASE(test_slirp_arp),
	   TEST_CASE(test_slirp_dhcp_offer), TEST_CASE(test_slirp_hostfwd_busy),
	   TEST_CASE(test_slirp_hostfwd_connect),
	   TEST_CASE(test_slirp_tcp_to_host),
	   TEST_CASE(test_slirp_rx_off_keeps_frames),
	   TEST_CASE(test_slirp_bad_sizes), TEST_CASE(test_tap_open_errors),
	   TEST_CASE(test_tap_frames), TEST_CASE(test_tap_deleted));
