// SPDX-License-Identifier: MIT
/*
 * A tap device as the network behind the guest's NIC (--net tap=NAME).
 *
 * mica attaches to the tap NAME with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR:
 * an existing persistent tap (which an unprivileged user may use if it
 * belongs to them: ip tuntap add NAME mode tap user USER), or a new one,
 * which needs CAP_NET_ADMIN and disappears when mica exits. mica does not
 * configure the interface (addresses, up, bridge): whoever made it does.
 *
 * The tap's vnet header is the 12-byte virtio_net_hdr_v1 (TUNSETVNETHDRSZ),
 * so frames go between guest buffers and the tap with their header as they
 * are: tx is one writev() from the guest's buffers (behind a sanitised copy
 * of the header, see virtio/net.c), rx one readv() into them when the guest
 * offers room for the largest frame, else through a bounce buffer. The
 * kernel validates the header of every frame we write (checksum offsets,
 * GSO) and drops bad ones; TUNSETOFFLOAD tells it which offloads the guest
 * accepts in frames it reads (partial checksums, TSO4/6, ECN), following
 * the negotiated features. x86 is little-endian like the header, so no
 * TUNSETVNETLE is needed.
 *
 * Flow control: the fd is non-blocking and watched on the device's I/O
 * thread. A write that would block (the tap's socket buffer is full; rare,
 * as the default sndbuf is unlimited) returns -EAGAIN: the device keeps the
 * frame and we watch for EPOLLOUT to resume it. With rx off the fd is not
 * watched for input: the kernel queues (txqueuelen) and then drops, like a
 * NIC without free descriptors.
 *
 * Guest-controlled: the frames and headers written to the tap (checked by
 * the kernel), and the buffers frames are read into.
 */
#include "backends/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

/* Room for any frame the tap may give us, with its header. */
#define TAP_BUF (NET_HDR_LEN + NET_MAX_FRAME)
/* Reads per recv() that may skip frames too large for TAP_BUF. */
#define TAP_READ_TRIES 8

struct tap_be {
	struct netbe be; /* first: ops get a struct netbe * */
	int fd;
	char ifname[IFNAMSIZ];
	bool rx_on, tx_blocked;
	bool dead; /* the interface went away: never watch it again */
	uint32_t watched; /* events the fd is watched for, 0: not watched */
	uint8_t *bounce; /* a frame read but not yet delivered */
	size_t bounce_len; /* 0: none */
};

static struct tap_be *to_tap(struct netbe *be)
{
	return (struct tap_be *)be;
}

static void tap_event(void *opaque, uint32_t events);

/* Watches the fd for what rx and tx need now. */
static void tap_update_watch(struct tap_be *t)
{
	const struct net_port *port = t->be.port;
	uint32_t want = (t->rx_on ? EPOLLIN : 0) |
			(t->tx_blocked ? EPOLLOUT : 0);
	int r;

	if (t->dead)
		want = 0;
	if (want == t->watched || !port)
		return;
	if (t->watched)
		port->unwatch(port->opaque, t->fd);
	t->watched = 0;
	if (!want)
		return;
	r = port->watch(port->opaque, t->fd, want, tap_event, t);
	if (r) {
		log_err("tap %s: cannot watch the device: %s", t->ifname,
			strerror(-r));
		return;
	}
	t->watched = want;
}

static void tap_event(void *opaque, uint32_t events)
{
	struct tap_be *t = opaque;
	const struct net_port *port = t->be.port;

	if (t->tx_blocked && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		t->tx_blocked = false;
		tap_update_watch(t);
		port->tx_ready(port->opaque);
	}
	if (t->rx_on && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		port->rx_ready(port->opaque);
}

static int tap_attach(struct netbe *be, const struct net_port *port)
{
	be->port = port;
	return 0;
}

static int tap_send(struct netbe *be, const struct iovec *iov,
		    unsigned int iovcnt)
{
	struct tap_be *t = to_tap(be);
	ssize_t r;

	r = writev(t->fd, iov, (int)iovcnt);
	if (r >= 0) {
		be->stats.tx_frames++;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		t->tx_blocked = true;
		tap_update_watch(t);
		return -EAGAIN;
	}
	r = -errno;
	be->stats.tx_dropped++;
	/* EINVAL: the kernel rejected the guest's header or frame. */
	if (r != -EINVAL && r != -EIO)
		log_guest("tap %s: write: %s", t->ifname, strerror((int)-r));
	return (int)r;
}

/*
 * A read failed with errno e (not EAGAIN): count the frame lost. Returns
 * whether to try the next one. EFAULT is a frame larger than any guest
 * buffer; EBADFD means the interface was deleted under us, and a level-
 * triggered fd in that state would spin the I/O thread.
 */
static bool tap_read_failed(struct tap_be *t, int e)
{
	t->be.stats.rx_dropped++;
	if (e == EFAULT)
		return true;
	if (e == EBADFD || e == ENXIO || e == ENODEV) {
		log_err("tap %s: the interface is gone (%s); no more frames "
			"from it",
			t->ifname, strerror(e));
		t->dead = true;
		tap_update_watch(t);
		return false;
	}
	log_guest("tap %s: read: %s", t->ifname, strerror(e));
	return true;
}

/*
 * Reads the next frame into iov, skipping (and counting) frames the tap
 * could not deliver. Returns its length with the header, or -EAGAIN.
 */
static ssize_t tap_read(struct tap_be *t, const struct iovec *iov,
			unsigned int iovcnt)
{
	unsigned int i;

	for (i = 0; i < TAP_READ_TRIES; i++) {
		ssize_t r = readv(t->fd, iov, (int)iovcnt);

		if (r >= (ssize_t)NET_HDR_LEN)
			return r;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		if (!tap_read_failed(t, r < 0 ? errno : EINVAL))
			break;
	}
	return -EAGAIN;
}

/* The next frame's length, read into the bounce buffer if not yet there. */
static ssize_t tap_peek(struct netbe *be)
{
	struct tap_be *t = to_tap(be);
	const struct iovec one = { .iov_base = t->bounce, .iov_len = TAP_BUF };
	ssize_t r;

	if (t->bounce_len)
		return (ssize_t)t->bounce_len;
	r = tap_read(t, &one, 1);
	if (r > 0)
		t->bounce_len = (size_t)r;
	return r;
}

static ssize_t tap_recv(struct netbe *be, const struct iovec *iov,
			unsigned int iovcnt)
{
	struct tap_be *t = to_tap(be);
	size_t room = iov ? net_iov_len(iov, iovcnt) : 0;
	ssize_t r;

	if (!iov) {
		r = tap_peek(be);
		if (r > 0) {
			t->bounce_len = 0;
			be->stats.rx_dropped++;
		}
		return r;
	}
	/* Straight into the guest's buffers when any frame fits. */
	if (!t->bounce_len && room >= TAP_BUF) {
		r = tap_read(t, iov, iovcnt);
		if (r > 0)
			be->stats.rx_frames++;
		return r;
	}
	r = tap_peek(be);
	if (r < 0)
		return r;
	if (room < t->bounce_len)
		return -EMSGSIZE;
	net_buf_to_iov(iov, iovcnt, 0, t->bounce, t->bounce_len);
	t->bounce_len = 0;
	be->stats.rx_frames++;
	return r;
}

static void tap_rx_enable(struct netbe *be, bool on)
{
	struct tap_be *t = to_tap(be);

	t->rx_on = on;
	tap_update_watch(t);
}

static int tap_set_offloads(struct netbe *be, uint32_t offloads)
{
	struct tap_be *t = to_tap(be);
	unsigned long f = 0;

	if (offloads & NET_OFFLOAD_CSUM) {
		f |= TUN_F_CSUM;
		if (offloads & NET_OFFLOAD_TSO4)
			f |= TUN_F_TSO4;
		if (offloads & NET_OFFLOAD_TSO6)
			f |= TUN_F_TSO6;
		if ((offloads & NET_OFFLOAD_ECN) &&
		    (f & (TUN_F_TSO4 | TUN_F_TSO6)))
			f |= TUN_F_TSO_ECN;
	}
	if (ioctl(t->fd, TUNSETOFFLOAD, f) < 0) {
		int e = errno;

		log_err("tap %s: TUNSETOFFLOAD 0x%lx: %s", t->ifname, f,
			strerror(e));
		return -e;
	}
	return 0;
}

static void tap_reset(struct netbe *be)
{
	struct tap_be *t = to_tap(be);

	t->bounce_len = 0;
	t->rx_on = false;
	t->tx_blocked = false;
	tap_update_watch(t);
}

static void tap_destroy(struct netbe *be)
{
	struct tap_be *t = to_tap(be);

	if (t->fd >= 0)
		close(t->fd);
	free(t->bounce);
	free(t);
}

static const struct netbe_ops tap_ops = {
	.attach = tap_attach,
	.send = tap_send,
	.recv = tap_recv,
	.peek = tap_peek,
	.rx_enable = tap_rx_enable,
	.set_offloads = tap_set_offloads,
	.reset = tap_reset,
	.destroy = tap_destroy,
};

/* The interface's MTU, for VIRTIO_NET_F_MTU; 0 if unknown. */
static uint16_t tap_mtu(const char *ifname)
{
	struct ifreq ifr = { .ifr_mtu = 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int mtu = 0;

	if (s < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFMTU, &ifr) == 0)
		mtu = ifr.ifr_mtu;
	close(s);
	/* The config field is 16 bits; Linux wants at least 68. */
	return mtu >= 68 && mtu <= 65535 ? (uint16_t)mtu : 0;
}

static const char *tap_setiff_hint(int e)
{
	switch (e) {
	case EPERM:
		return " (creating a tap device needs CAP_NET_ADMIN; an "
		       "existing persistent one must belong to your user: "
		       "ip tuntap add NAME mode tap user USER)";
	case EBUSY:
		return " (another process has it open)";
	case EINVAL:
		return " (it exists but is not a tap device, or the name is "
		       "invalid)";
	default:
		return "";
	}
}

int net_tap_new(struct netbe **out, const char *ifname, char *err,
		size_t errlen)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdrsz = NET_HDR_LEN;
	unsigned int features = 0;
	struct tap_be *t;
	int r;

	*out = NULL;
	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ) {
		snprintf(err, errlen,
			 "--net tap: the interface name must be "
			 "1 to %d characters",
			 IFNAMSIZ - 1);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "--net tap=%s: out of memory", ifname);
		return -ENOMEM;
	}
	t->be = (struct netbe){
		.ops = &tap_ops,
		.kind = "tap",
	};
	t->fd = -1;
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
	t->bounce = malloc(TAP_BUF);
	if (!t->bounce) {
		r = -ENOMEM;
		snprintf(err, errlen, "--net tap=%s: out of memory", ifname);
		goto fail;
	}
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		r = -errno;
		snprintf(err, errlen,
			 "--net tap=%s: cannot open /dev/net/tun: %s", ifname,
			 strerror(-r));
		goto fail;
	}
	if (ioctl(t->fd, TUNGETFEATURES, &features) == 0 &&
	    !(features & IFF_VNET_HDR)) {
		r = -EOPNOTSUPP;
		snprintf(err, errlen,
			 "--net tap=%s: the kernel's tap driver "
			 "lacks IFF_VNET_HDR",
			 ifname);
		goto fail;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		snprintf(err, errlen, "--net tap=%s: cannot attach: %s%s",
			 ifname, strerror(-r), tap_setiff_hint(-r));
		goto fail;
	}
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdrsz) < 0) {
		r = -errno;
		snprintf(err, errlen, "--net tap=%s: TUNSETVNETHDRSZ: %s",
			 ifname, strerror(-r));
		goto fail;
	}
	/* Offloads work if the kernel takes them; none until negotiated. */
	t->be.offloads = ioctl(t->fd, TUNSETOFFLOAD,
			       (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 |
					       TUN_F_TSO6 | TUN_F_TSO_ECN)) ==
			 0;
	if (ioctl(t->fd, TUNSETOFFLOAD, 0ul) < 0) {
		r = -errno;
		snprintf(err, errlen, "--net tap=%s: TUNSETOFFLOAD: %s", ifname,
			 strerror(-r));
		goto fail;
	}
	t->be.mtu = tap_mtu(ifname);
	*out = &t->be;
	return 0;

fail:
	tap_destroy(&t->be);
	return r;
}
