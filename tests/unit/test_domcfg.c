// SPDX-License-Identifier: MIT
/*
 * Tests of domain configurations (src/toolstack/domcfg.c): every key and
 * its defaults, the command line composed from root/extra, disks in the
 * positional, key=value and deprecated xm forms, interfaces, lifecycle
 * actions, UUIDs, warnings for Xen-only keys, errors (unknown and
 * duplicate keys, bad types and sizes) with their file and line, the JSON
 * form with the same checks, the canonical JSON round trip, and limits.
 */
#include "unit/test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "arch/x86_64/layout.h"
#include "config/devopts.h"
#include "toolstack/domcfg.h"
#include "toolstack/xlcfg.h"

static struct domain_config dc, dc2;
static struct domcfg_msgs msgs;

#define BASE "name = 'web1'\nkernel = '/boot/vmlinuz'\n"

static int parse_as(const char *text, const char *file, enum domcfg_format f)
{
	domcfg_free(&dc);
	return domcfg_parse(text, strlen(text), file, f, &dc, &msgs);
}

/* Names the file dom.json for JSON text, dom.cfg otherwise. */
static int parse(const char *text)
{
	return parse_as(text, text[0] == '{' ? "dom.json" : "dom.cfg",
			DOMCFG_AUTO);
}

static bool is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

#define EXPECT_ERR(text, want) expect_err(__LINE__, text, -EINVAL, want)
#define EXPECT_ERR_RC(text, rc, want) expect_err(__LINE__, text, rc, want)

static void expect_err(int line, const char *text, int want_rc,
		       const char *want)
{
	int rc = parse(text);

	if (rc != want_rc)
		test_fail(__FILE__, line, "rc %d, expected %d (%s)", rc,
			  want_rc, msgs.error);
	else if (!strstr(msgs.error, want))
		test_fail(__FILE__, line, "error '%s' lacks '%s'", msgs.error,
			  want);
	if (!is_zero(&dc, sizeof(dc)))
		test_fail(__FILE__, line, "config not cleared after failure");
}

/* Parses successfully and checks some warning contains want. */
#define EXPECT_WARN(text, want) expect_warn(__LINE__, text, want)

static void expect_warn(int line, const char *text, const char *want)
{
	unsigned int i;
	int rc = parse(text);

	if (rc) {
		test_fail(__FILE__, line, "rc %d: %s", rc, msgs.error);
		return;
	}
	for (i = 0; i < msgs.nr_warnings; i++)
		if (strstr(msgs.warnings[i], want))
			break;
	if (i == msgs.nr_warnings)
		test_fail(__FILE__, line,
			  "no warning with '%s' (%u warnings%s%s)", want,
			  msgs.nr_warnings, msgs.nr_warnings ? ", first: " : "",
			  msgs.nr_warnings ? msgs.warnings[0] : "");
	else if (!dc.warnings || !strstr(dc.warnings, want))
		test_fail(__FILE__, line, "warning not in dc.warnings");
}

static void test_minimal(void)
{
	CHECK_EQ(parse(BASE), 0);
	CHECK_STR(msgs.error, "");
	CHECK_EQ(msgs.nr_warnings, 0);
	CHECK(!dc.warnings);
	CHECK_STR(dc.name, "web1");
	CHECK(!dc.has_uuid);
	CHECK_STR(dc.vm.kernel, "/boot/vmlinuz");
	CHECK(dc.vm.kernel == dc.kernel);
	CHECK(!dc.vm.initrd);
	CHECK_STR(dc.vm.cmdline, "console=ttyS0");
	CHECK_EQ(dc.vm.memory, 512ull << 20);
	CHECK_EQ(dc.vm.cpus, 1);
	CHECK_EQ(dc.vm.nr_vcpu_affinity, 0);
	CHECK_EQ(dc.vm.nr_disks, 0);
	CHECK_EQ(dc.vm.nr_nets, 0);
	CHECK_EQ(dc.vm.console, CONSOLE_SERIAL);
	CHECK_EQ(dc.vm.rng_rate, 0);
	CHECK(!dc.vm.debug_exit);
	/* xl.cfg(5)'s defaults */
	CHECK_EQ(dc.on_poweroff, DOMAIN_DESTROY);
	CHECK_EQ(dc.on_reboot, DOMAIN_RESTART);
	CHECK_EQ(dc.on_crash, DOMAIN_DESTROY);
	CHECK_EQ(dc.vm.on_reboot, REBOOT_RESTART);
	CHECK(!dc.autostart);
	CHECK(!dc.path);
	/* the same in JSON */
	CHECK_EQ(parse("{\"name\": \"web1\", \"kernel\": \"/boot/vmlinuz\"}"),
		 0);
	CHECK_STR(dc.name, "web1");
	CHECK_STR(dc.vm.cmdline, "console=ttyS0");
	/* msgs may be NULL */
	domcfg_free(&dc);
	CHECK_EQ(domcfg_parse(BASE, strlen(BASE), NULL, DOMCFG_XL, &dc, NULL),
		 0);
	domcfg_free(&dc);
	CHECK_EQ(domcfg_parse("x", 1, NULL, DOMCFG_XL, &dc, NULL), -EINVAL);
}

static void test_every_key(void)
{
	static const char text[] =
		"# a web server\n"
		"name = \"web-1.example_a\"\n"
		"uuid = '6F3C2A1E-5B7D-4E2F-9A10-3C4D5E6F7A8B'\n"
		"type = 'pvh'\n"
		"memory = 1024\n"
		"maxmem = 1024\n"
		"vcpus = 4\n"
		"maxvcpus = 4\n"
		"cpus = [ 2, '3' ]\n"
		"kernel = '/boot/vmlinuz-6.1'\n"
		"ramdisk = '/boot/initrd.img-6.1'\n"
		"cmdline = 'console=hvc0 root=/dev/vda1 ro'\n"
		"disk = [ '/srv/web1.img,raw,xvda,rw' ]\n"
		"vif = [ 'mac=00:16:3e:12:34:56,vifname=tap-web1' ]\n"
		"on_poweroff = 'destroy'\n"
		"on_reboot = 'restart'\n"
		"on_crash = 'preserve'\n"
		"console = 'virtio'\n"
		"rng = 'rate=64K'\n"
		"autostart = 1\n";

	CHECK_EQ(parse(text), 0);
	CHECK_STR(msgs.error, "");
	CHECK_EQ(msgs.nr_warnings, 0);
	CHECK_STR(dc.name, "web-1.example_a");
	CHECK(dc.has_uuid);
	CHECK_EQ(dc.uuid[0], 0x6f);
	CHECK_EQ(dc.uuid[15], 0x8b);
	CHECK_EQ(dc.vm.memory, 1024ull << 20);
	CHECK_EQ(dc.vm.cpus, 4);
	CHECK_EQ(dc.vm.nr_vcpu_affinity, 2);
	CHECK_EQ(dc.vm.vcpu_affinity[0], 2);
	CHECK_EQ(dc.vm.vcpu_affinity[1], 3);
	CHECK_STR(dc.vm.kernel, "/boot/vmlinuz-6.1");
	CHECK_STR(dc.vm.initrd, "/boot/initrd.img-6.1");
	CHECK_STR(dc.vm.cmdline, "console=hvc0 root=/dev/vda1 ro");
	CHECK_EQ(dc.vm.nr_disks, 1);
	CHECK_STR(dc.vm.disks[0].path, "/srv/web1.img");
	CHECK(!dc.vm.disks[0].readonly);
	CHECK_EQ(dc.vm.disks[0].cache, DISK_CACHE_WRITEBACK);
	CHECK_EQ(dc.vm.disks[0].queues, 1);
	CHECK_STR(dc.disk_vdev[0], "xvda");
	CHECK_EQ(dc.vm.nr_nets, 1);
	CHECK_EQ(dc.vm.nets[0].backend, NET_TAP);
	CHECK_STR(dc.vm.nets[0].tap, "tap-web1");
	CHECK_EQ(dc.vm.nets[0].mac[0], 0x00);
	CHECK_EQ(dc.vm.nets[0].mac[5], 0x56);
	CHECK_EQ(dc.on_crash, DOMAIN_PRESERVE);
	CHECK_EQ(dc.vm.console, CONSOLE_VIRTIO);
	CHECK_EQ(dc.vm.rng_rate, 64 << 10);
	CHECK(dc.autostart);
}

static void test_cmdline(void)
{
	/* xl.cfg(5): root= and extra= make "root=ROOT EXTRA" */
	CHECK_EQ(parse(BASE "root = '/dev/vda1'\nextra = 'console=ttyS0 ro'"),
		 0);
	CHECK_STR(dc.vm.cmdline, "root=/dev/vda1 console=ttyS0 ro");
	CHECK_EQ(parse(BASE "root = '/dev/xvda'"), 0);
	CHECK_STR(dc.vm.cmdline, "root=/dev/xvda");
	CHECK_EQ(parse(BASE "extra = 'quiet'"), 0);
	CHECK_STR(dc.vm.cmdline, "quiet");
	CHECK_EQ(parse(BASE "cmdline = ''"), 0);
	CHECK_STR(dc.vm.cmdline, "");
	/* cmdline wins, with a warning naming root's line */
	EXPECT_WARN(BASE "cmdline = 'a'\nroot = '/dev/vda'",
		    "dom.cfg:4: root= and extra= are ignored");
	CHECK_STR(dc.vm.cmdline, "a");
	/* the default follows the console */
	CHECK_EQ(parse(BASE "console = 'virtio'"), 0);
	CHECK_STR(dc.vm.cmdline, "console=hvc0");
	CHECK_EQ(parse(BASE "console = 'serial'"), 0);
	CHECK_STR(dc.vm.cmdline, "console=ttyS0");
	/* a console= the domain's console cannot show */
	EXPECT_WARN(BASE "extra = 'console=hvc0 xencons=tty'",
		    "dom.cfg: the command line has console=hvc0, but the "
		    "domain's console is the serial port");
	EXPECT_WARN(BASE "console = 'virtio'\ncmdline = 'console=ttyS0'",
		    "has console=ttyS0, but the domain's console is virtio");
	CHECK_EQ(parse(BASE "console = 'virtio'\nextra = 'console=hvc0'"), 0);
	CHECK_EQ(msgs.nr_warnings, 0);
	CHECK_EQ(parse(BASE "extra = 'console=ttyS0 console=hvc0'"), 0);
	CHECK_EQ(msgs.nr_warnings, 0);
	CHECK_EQ(parse(BASE "extra = 'xconsole=hvc0'"), 0);
	CHECK_EQ(msgs.nr_warnings, 0);
	EXPECT_ERR(BASE "cmdline = 1", "dom.cfg:3: cmdline: expected");
	EXPECT_ERR(BASE "extra = ['a']", "extra: expected a string");
}

static void test_cmdline_too_long(void)
{
	size_t n = LAYOUT_CMDLINE_MAX;
	char *text = malloc(n + 64);
	int len;

	if (!text) {
		CHECK(text);
		return;
	}
	/* root=R plus " " plus extra: one byte over together */
	len = sprintf(text, BASE "root = '");
	memset(text + len, 'r', n / 2);
	len += (int)(n / 2);
	len += sprintf(text + len, "'\nextra = '");
	memset(text + len, 'e', n / 2 - 6);
	len += (int)(n / 2 - 6);
	sprintf(text + len, "'\n");
	EXPECT_ERR(text, "longer than 65535 bytes");
	/* cmdline alone: 65535 is fine, 65536 is not */
	len = sprintf(text, BASE "cmdline = '");
	memset(text + len, 'c', n - 1);
	sprintf(text + len + n - 1, "'\n");
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(strlen(dc.vm.cmdline), n - 1);
	memset(text + len, 'c', n);
	sprintf(text + len + n, "'\n");
	EXPECT_ERR(text, "cmdline: longer than 65535");
	free(text);
}

static void test_name(void)
{
	char text[256];

	CHECK_EQ(parse("name='a'\nkernel='k'"), 0);
	CHECK_EQ(parse("name='_'\nkernel='k'"), 0);
	CHECK_EQ(parse("name='1a'\nkernel='k'"), 0);
	CHECK_EQ(parse("name='a.b-c_d'\nkernel='k'"), 0);
	snprintf(text, sizeof(text), "name='%063d'\nkernel='k'", 1);
	CHECK_EQ(parse(text), -EINVAL); /* only digits */
	snprintf(text, sizeof(text), "name='a%062d'\nkernel='k'", 1);
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(strlen(dc.name), 63);
	snprintf(text, sizeof(text), "name='a%063d'\nkernel='k'", 1);
	EXPECT_ERR(text, "not a valid domain name");
	EXPECT_ERR("name='12'\nkernel='k'", "not only digits");
	EXPECT_ERR("name=''\nkernel='k'", "not a valid domain name");
	EXPECT_ERR("name='-x'\nkernel='k'", "not a valid domain name");
	EXPECT_ERR("name='.x'\nkernel='k'", "not a valid domain name");
	EXPECT_ERR("name='a b'\nkernel='k'", "dom.cfg:1: name: 'a b'");
	EXPECT_ERR("name='a/b'\nkernel='k'", "not a valid domain name");
	EXPECT_ERR("name='caf\xc3\xa9'\nkernel='k'", "not a valid domain name");
	EXPECT_ERR("name=12\nkernel='k'", "name: expected a name in quotes");
	EXPECT_ERR("kernel='k'", "dom.cfg: no name: 'name' is required");
}

static void test_kernel(void)
{
	EXPECT_ERR("name='a'", "no kernel");
	EXPECT_ERR("name='a'\nkernel=''", "dom.cfg:2: kernel: empty path");
	EXPECT_ERR("name='a'\nkernel=['k']", "kernel: expected a path");
	EXPECT_ERR(BASE "ramdisk=''", "ramdisk: empty path");
	EXPECT_ERR("name='a'\nkernel='\xff'", "kernel: a string that is not "
					      "UTF-8");
	CHECK_EQ(parse(BASE "ramdisk = 'initrd.img'"), 0);
	CHECK_STR(dc.vm.initrd, "initrd.img");
	CHECK(dc.vm.initrd == dc.ramdisk);
}

static void test_memory_vcpus(void)
{
	CHECK_EQ(parse(BASE "memory = 16\nvcpus = 255"), 0);
	CHECK_EQ(dc.vm.memory, 16ull << 20);
	CHECK_EQ(dc.vm.cpus, 255);
	CHECK_EQ(parse(BASE "memory = 1048576"), 0);
	CHECK_EQ(dc.vm.memory, 1ull << 40);
	/* xl reads quoted numbers, hex and octal too */
	CHECK_EQ(parse(BASE "memory = '2048'\nvcpus = 0x2"), 0);
	CHECK_EQ(dc.vm.memory, 2048ull << 20);
	CHECK_EQ(dc.vm.cpus, 2);
	CHECK_EQ(parse(BASE "memory = 0400"), 0);
	CHECK_EQ(dc.vm.memory, 256ull << 20);

	EXPECT_ERR(BASE "memory = 'lots'",
		   "dom.cfg:3: memory: expected a number of MiB, not 'lots'");
	EXPECT_ERR(BASE "memory = 15", "memory: the number 15 is out of range "
				       "(16 to 1048576)");
	EXPECT_ERR(BASE "memory = 1048577", "out of range");
	EXPECT_ERR(BASE "memory = [512]", "not a list");
	EXPECT_ERR(BASE "memory = '512M'", "expected a number of MiB");
	EXPECT_ERR(BASE "vcpus = 0", "vcpus: the number 0 is out of range");
	EXPECT_ERR(BASE "vcpus = 256", "out of range (1 to 255)");
	EXPECT_ERR(BASE "vcpus = ''", "vcpus: expected a number of vCPUs");

	/* maxmem and maxvcpus: no ballooning, no hotplug */
	CHECK_EQ(parse(BASE "memory = 512\nmaxmem = 512\nvcpus = 2\n"
			    "maxvcpus = 2"),
		 0);
	CHECK_EQ(msgs.nr_warnings, 0);
	EXPECT_WARN(BASE "memory = 512\nmaxmem = 1024",
		    "dom.cfg:4: maxmem: mica has no memory ballooning");
	CHECK_EQ(dc.vm.memory, 512ull << 20);
	EXPECT_WARN(BASE "maxmem = 2048", "memory = 512 MiB");
	EXPECT_ERR(BASE "memory = 512\nmaxmem = 256",
		   "maxmem: 256 MiB is below memory");
	EXPECT_WARN(BASE "vcpus = 2\nmaxvcpus = 4",
		    "maxvcpus: mica has no vCPU hotplug; the guest has vcpus "
		    "= 2");
	EXPECT_WARN(BASE "maxvcpus = 4", "vcpus = 1");
	EXPECT_ERR(BASE "maxvcpus = 2\nvcpus = 4",
		   "dom.cfg:3: maxvcpus: 2 is below vcpus (4)");
}

static void test_disk_positional(void)
{
	CHECK_EQ(parse(BASE "disk = [ '/srv/a.img,raw,xvda,rw',\n"
			    "  '/srv/b.img,,xvdb,ro',\n"
			    "  '/srv/c.img',\n"
			    "  '/srv/d.img,,,r' ]"),
		 0);
	CHECK_EQ(msgs.nr_warnings, 0);
	CHECK_EQ(dc.vm.nr_disks, 4);
	CHECK_STR(dc.vm.disks[0].path, "/srv/a.img");
	CHECK(!dc.vm.disks[0].readonly);
	CHECK_STR(dc.disk_vdev[0], "xvda");
	CHECK_STR(dc.vm.disks[1].path, "/srv/b.img");
	CHECK(dc.vm.disks[1].readonly);
	CHECK_STR(dc.disk_vdev[1], "xvdb");
	CHECK_STR(dc.vm.disks[2].path, "/srv/c.img");
	CHECK_STR(dc.disk_vdev[2], "");
	CHECK(!dc.vm.disks[2].readonly);
	CHECK_STR(dc.vm.disks[3].path, "/srv/d.img");
	CHECK(dc.vm.disks[3].readonly);

	/* the examples of xl-disk-configuration(5) */
	CHECK_EQ(parse(BASE "disk = [ '/dev/vg/guest-volume,,hda' ]"), 0);
	CHECK_STR(dc.vm.disks[0].path, "/dev/vg/guest-volume");
	CHECK_STR(dc.disk_vdev[0], "hda");
	CHECK_EQ(parse(BASE "disk = [ '/dev/vg/guest-volume,raw,hda,rw' ]"), 0);
	CHECK_EQ(parse(BASE "disk = [ 'format=raw, vdev=hda, access=rw, "
			    "target=/dev/vg/guest-volume' ]"),
		 0);
	CHECK_STR(dc.vm.disks[0].path, "/dev/vg/guest-volume");
	CHECK_STR(dc.disk_vdev[0], "hda");
	CHECK(!dc.vm.disks[0].readonly);
	/* deprecated xm prefixes: target, vdev, access */
	CHECK_EQ(parse(BASE "disk = [ 'raw:/dev/vg/guest-volume,hda,w' ]"), 0);
	CHECK_STR(dc.vm.disks[0].path, "/dev/vg/guest-volume");
	CHECK_STR(dc.disk_vdev[0], "hda");
	CHECK_EQ(parse(BASE "disk = [ 'phy:/dev/vg/web,xvda,w',\n"
			    "  'file:/srv/data.img,xvdb,r',\n"
			    "  'tap:aio:/srv/x.img,xvdc:disk,w' ]"),
		 0);
	CHECK_STR(dc.vm.disks[0].path, "/dev/vg/web");
	CHECK_STR(dc.disk_vdev[0], "xvda");
	CHECK(!dc.vm.disks[0].readonly);
	CHECK_STR(dc.vm.disks[1].path, "/srv/data.img");
	CHECK(dc.vm.disks[1].readonly);
	CHECK_STR(dc.vm.disks[2].path, "/srv/x.img");
	CHECK_STR(dc.disk_vdev[2], "xvdc");
	/* a positional target keeps a colon that is no prefix */
	CHECK_EQ(parse(BASE "disk = [ '/srv/a:b.img' ]"), 0);
	CHECK_STR(dc.vm.disks[0].path, "/srv/a:b.img");
}

static void test_disk_keys(void)
{
	/* target= takes the rest, commas included */
	CHECK_EQ(parse(BASE "disk = [ 'vdev=xvda,access=ro,target=/srv/a,b "
			    "c.img' ]"),
		 0);
	CHECK_STR(dc.vm.disks[0].path, "/srv/a,b c.img");
	CHECK(dc.vm.disks[0].readonly);
	/* mica's own keys, through devopts */
	CHECK_EQ(parse(BASE "disk = [ '/srv/a.img,raw,xvda,rw,serial=disk-1,"
			    "cache=none,queues=4' ]"),
		 0);
	CHECK_STR(dc.vm.disks[0].serial, "disk-1");
	CHECK_EQ(dc.vm.disks[0].cache, DISK_CACHE_NONE);
	CHECK_EQ(dc.vm.disks[0].queues, 4);
	CHECK(!dc.vm.disks[0].readonly);
	EXPECT_ERR(BASE "disk = [ '/a,cache=fast' ]",
		   "dom.cfg:3: disk[0]: cache='fast': expected writeback");
	EXPECT_ERR(BASE "disk = [ '/a,queues=99' ]", "disk[0]: queues='99'");
	EXPECT_ERR(BASE "disk = [ '/a,serial=123456789012345678901' ]",
		   "longer than 20");
	/* empty values mean the default; devtype=disk is the default */
	CHECK_EQ(parse(BASE "disk = [ 'format=,vdev=,access=,devtype=disk,"
			    "target=/x' ]"),
		 0);
	CHECK(!dc.vm.disks[0].readonly);
	CHECK_EQ(parse(BASE "disk = [ '/x,raw,xvda,rw,discard' ]"), 0);
	CHECK_EQ(msgs.nr_warnings, 0);
	/* Xen-only keys and flags warn */
	EXPECT_WARN(BASE "disk = [ '/x,backendtype=qdisk' ]",
		    "disk[0]: backendtype= is Xen-only, ignored");
	EXPECT_WARN(BASE "disk = [ '/x,script=block-iscsi' ]",
		    "script= is Xen-only");
	EXPECT_WARN(BASE "disk = [ 'backend=dom0,/x' ]", "backend=");
	EXPECT_WARN(BASE "disk = [ '/x,direct-io-safe' ]",
		    "flag 'direct-io-safe' is Xen-only");
	EXPECT_WARN(BASE "disk = [ '/x,no-discard' ]", "no-discard");
}

static void test_disk_order(void)
{
	/* the guest sees disks in vdev order; disks without one last */
	CHECK_EQ(parse(BASE "disk = [ '/c,,xvdc', '/none', '/a,,xvda', "
			    "'/b,,hdb', '/aa,,sdaa', '/none2' ]"),
		 0);
	CHECK_EQ(dc.vm.nr_disks, 6);
	CHECK_STR(dc.vm.disks[0].path, "/a");
	CHECK_STR(dc.vm.disks[1].path, "/b");
	CHECK_STR(dc.disk_vdev[1], "hdb");
	CHECK_STR(dc.vm.disks[2].path, "/c");
	CHECK_STR(dc.vm.disks[3].path, "/aa");
	CHECK_STR(dc.disk_vdev[3], "sdaa");
	CHECK_STR(dc.vm.disks[4].path, "/none");
	CHECK_STR(dc.disk_vdev[4], "");
	CHECK_STR(dc.vm.disks[5].path, "/none2");
	CHECK_EQ(parse(BASE "disk = [ '/b,,vdb', '/a,,vda' ]"), 0);
	CHECK_STR(dc.vm.disks[0].path, "/a");

	EXPECT_ERR(BASE "disk = [ '/a,,xvda',\n '/b,,hda' ]",
		   "dom.cfg:4: disk[1]: vdev 'hda' is the same disk as "
		   "'xvda' (disk[0])");
	EXPECT_ERR(BASE "disk = [ '/a,,xvda1' ]",
		   "disk[0]: vdev 'xvda1' names a partition");
	EXPECT_ERR(BASE "disk = [ '/a,,xvd' ]", "not a disk name");
	EXPECT_ERR(BASE "disk = [ '/a,,nvme0n1' ]", "not a disk name");
	EXPECT_ERR(BASE "disk = [ '/a,,xvdA' ]", "not a disk name");
	EXPECT_ERR(BASE "disk = [ '/a,,xvdaaaa' ]", "not a disk name");
	EXPECT_ERR(BASE "disk = [ '/a,,xvda:floppy' ]", "not a disk name");
}

static void test_disk_errors(void)
{
	char text[2048];
	size_t n;
	unsigned int i;

	EXPECT_ERR(BASE "disk = [ '/a.qcow2,qcow2,xvda' ]",
		   "dom.cfg:3: disk[0]: format 'qcow2' is not supported yet");
	EXPECT_ERR(BASE "disk = [ 'qcow2:/a.qcow2,xvda,w' ]",
		   "format 'qcow2' is not supported yet");
	EXPECT_ERR(BASE "disk = [ 'format=vhd,target=/a' ]", "'vhd'");
	EXPECT_ERR(BASE "disk = [ '/a,iso' ]", "unknown format 'iso'");
	/* CD-ROMs in each of their spellings */
	EXPECT_ERR(BASE "disk = [ '/root/image.iso,,hdc,cdrom' ]",
		   "CD-ROM drives are not supported");
	EXPECT_ERR(BASE "disk = [ '/root/image.iso,raw,hdc,devtype=cdrom' ]",
		   "CD-ROM");
	EXPECT_ERR(BASE "disk = [ 'raw:/root/image.iso,hdc:cdrom,ro' ]",
		   "CD-ROM");
	EXPECT_ERR(BASE "disk = [ '/a,devtype=floppy' ]", "devtype 'floppy'");
	EXPECT_ERR(BASE "disk = [ '/a,raw,xvda,rw,extra' ]",
		   "'extra' is one parameter too many");
	EXPECT_ERR(BASE "disk = [ '/a,colo-port=1' ]",
		   "disk[0]: unknown key 'colo-port'");
	EXPECT_ERR(BASE "disk = [ '/a,raw,xvda,rwx' ]",
		   "access 'rwx': expected rw or ro");
	EXPECT_ERR(BASE "disk = [ ',raw,xvda' ]", "disk[0]: no target");
	EXPECT_ERR(BASE "disk = [ '' ]", "no target");
	EXPECT_ERR(BASE "disk = [ 'vdev=xvda,vdev=xvdb,target=/a' ]",
		   "vdev given twice");
	/* vdev is taken: the next free position is format */
	EXPECT_ERR(BASE "disk = [ '/a,vdev=xvda,xvdb' ]",
		   "unknown format 'xvdb'");
	EXPECT_ERR(BASE "disk = [ '/a,target=/b' ]", "target given twice");
	EXPECT_ERR(BASE "disk = '/a'", "disk: expected a list");
	EXPECT_ERR(BASE "disk = [ 1 ]", "disk[0]: expected a disk spec");
	EXPECT_ERR(BASE "disk = [ ['/a'] ]", "expected a disk spec");
	/* one writable image, one disk */
	EXPECT_ERR(BASE "disk = [ '/a,,xvda', '/a,,xvdb' ]",
		   "disk[1]: '/a' is also disk[0]");
	CHECK_EQ(parse(BASE "disk = [ '/a,,xvda,ro', '/a,,xvdb,ro' ]"), 0);
	/* too many disks */
	n = (size_t)snprintf(text, sizeof(text), BASE "disk = [");
	for (i = 0; i <= CONFIG_MAX_DISKS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "'/d%u',", i);
	snprintf(text + n, sizeof(text) - n, "]");
	EXPECT_ERR_RC(text, -EFBIG, "disk: 17 disks; at most 16");
	/* a target at CONFIG_PATH_MAX */
	{
		char *big = malloc(CONFIG_PATH_MAX + 128);

		if (big) {
			n = (size_t)sprintf(big, BASE "disk = [ '/");
			memset(big + n, 'p', CONFIG_PATH_MAX - 2);
			sprintf(big + n + CONFIG_PATH_MAX - 2, "' ]");
			CHECK_EQ(parse(big), 0);
			CHECK_EQ(strlen(dc.vm.disks[0].path),
				 CONFIG_PATH_MAX - 1);
			memset(big + n, 'p', CONFIG_PATH_MAX - 1);
			sprintf(big + n + CONFIG_PATH_MAX - 1, "' ]");
			EXPECT_ERR(big, "target longer than 4095 bytes");
			free(big);
		}
	}
}

static void test_vif(void)
{
	uint8_t mac0[6];

	/* vif = [ '' ]: one interface, user-mode, a MAC from the name */
	CHECK_EQ(parse(BASE "vif = [ '' ]"), 0);
	CHECK_EQ(dc.vm.nr_nets, 1);
	CHECK_EQ(dc.vm.nets[0].backend, NET_USER);
	CHECK_EQ(dc.vm.nets[0].mac[0], 0x52);
	CHECK_EQ(dc.vm.nets[0].mac[1], 0x54);
	CHECK_EQ(dc.vm.nets[0].mac[2], 0x00);
	memcpy(mac0, dc.vm.nets[0].mac, 6);
	/* the same name gives the same MAC; another name another */
	CHECK_EQ(parse(BASE "vif = [ '', 'model=virtio' ]"), 0);
	CHECK(!memcmp(dc.vm.nets[0].mac, mac0, 6));
	CHECK(memcmp(dc.vm.nets[1].mac, mac0, 6));
	CHECK_EQ(parse("name = 'web2'\nkernel='k'\nvif = [ '' ]"), 0);
	CHECK(memcmp(dc.vm.nets[0].mac, mac0, 6));

	CHECK_EQ(parse(BASE "vif = [ 'mac=00:16:3E:01:02:03, vifname=tap0' ]"),
		 0);
	CHECK_EQ(dc.vm.nets[0].backend, NET_TAP);
	CHECK_STR(dc.vm.nets[0].tap, "tap0");
	CHECK_EQ(dc.vm.nets[0].mac[2], 0x3e);
	CHECK_EQ(dc.vm.nets[0].mac[5], 0x03);
	CHECK_EQ(parse(BASE "vif = [ 'hostfwd=tcp::8080-:80,"
			    "hostfwd=udp:127.0.0.1:5353-10.0.2.15:53' ]"),
		 0);
	CHECK_EQ(dc.vm.nets[0].backend, NET_USER);
	CHECK_EQ(dc.vm.nets[0].nr_hostfwd, 2);
	CHECK_EQ(dc.vm.nets[0].hostfwd[0].host_port, 8080);
	CHECK_EQ(dc.vm.nets[0].hostfwd[0].guest_port, 80);
	CHECK(dc.vm.nets[0].hostfwd[1].udp);
	CHECK_EQ(dc.vm.nets[0].hostfwd[1].guest_port, 53);

	EXPECT_WARN(BASE "vif = [ 'bridge=xenbr0' ]",
		    "dom.cfg:3: vif[0]: bridge 'xenbr0' is ignored");
	CHECK_EQ(dc.vm.nets[0].backend, NET_USER);
	EXPECT_WARN(BASE "vif = [ 'model=e1000' ]",
		    "model 'e1000' is ignored: mica's interfaces are "
		    "virtio-net");
	EXPECT_WARN(BASE "vif = [ 'script=vif-route,ip=10.0.0.2' ]",
		    "vif[0]: script= is Xen-only");
	EXPECT_WARN(BASE "vif = [ 'rate=10Mb/s' ]", "rate=");
	EXPECT_ERR(BASE "vif = [ 'bogus=1' ]", "vif[0]: unknown key 'bogus'");
	EXPECT_ERR(BASE "vif = [ 'tap0' ]", "'tap0' is not KEY=VALUE");
	EXPECT_ERR(BASE "vif = [ 'vifname=tap0,hostfwd=tcp::1-:2' ]",
		   "hostfwd= needs user-mode networking");
	EXPECT_ERR(BASE "vif = [ 'mac=00:16:3e' ]",
		   "vif[0]: mac='00:16:3e': expected six hex bytes");
	EXPECT_ERR(BASE "vif = [ 'mac=01:00:5e:00:00:01' ]", "multicast");
	EXPECT_ERR(BASE "vif = [ 'mac=' ]", "mac= is empty");
	EXPECT_ERR(BASE
		   "vif = [ 'mac=00:16:3e:00:00:01,mac=00:16:3e:00:00:02' ]",
		   "mac given twice");
	EXPECT_ERR(BASE "vif = [ 'vifname=this-name-is-too-long' ]",
		   "not an interface name");
	EXPECT_ERR(BASE "vif = [ 'hostfwd=tcp::80' ]", "hostfwd='tcp::80'");
	EXPECT_ERR(BASE "vif = [ 'hostfwd=tcp::80-:80,hostfwd=tcp::80-:81' ]",
		   "forwarded twice");
	EXPECT_ERR(BASE "vif = [ 'mac=00:16:3e:00:00:01',\n"
			"  'mac=00:16:3E:00:00:01' ]",
		   "dom.cfg:4: vif[1]: same mac as vif[0]");
	EXPECT_ERR(BASE "vif = 'mac=00:16:3e:00:00:01'",
		   "vif: expected a list");
	EXPECT_ERR(BASE "vif = [ 5 ]", "vif[0]: expected an interface spec");
	EXPECT_ERR_RC(BASE "vif = [ '','','','','','','','','' ]", -EFBIG,
		      "vif: 9 interfaces; at most 8");
}

static void test_vif_default_macs_distinct(void)
{
	unsigned int i, j;

	/* eight interfaces: every default MAC differs, and from given ones */
	CHECK_EQ(parse(BASE "vif = [ '', '', '', '', '', '', '',\n"
			    "  'mac=52:54:00:00:00:01' ]"),
		 0);
	CHECK_EQ(dc.vm.nr_nets, 8);
	for (i = 0; i < 8; i++)
		for (j = 0; j < i; j++)
			CHECK(memcmp(dc.vm.nets[i].mac, dc.vm.nets[j].mac, 6));
	CHECK_EQ(dc.vm.nets[7].mac[5], 1);
}

static void test_hostfwd_limit(void)
{
	char text[1024];
	size_t n;
	unsigned int i;

	n = (size_t)snprintf(text, sizeof(text), BASE "vif = [ '");
	for (i = 0; i < CONFIG_MAX_HOSTFWD; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "hostfwd=tcp::%u-:%u,", 1000 + i, i + 1);
	snprintf(text + n, sizeof(text) - n, "mac=52:54:00:00:00:09' ]");
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(dc.vm.nets[0].nr_hostfwd, CONFIG_MAX_HOSTFWD);
	snprintf(text + n, sizeof(text) - n, "hostfwd=tcp::99-:9' ]");
	EXPECT_ERR(text, "vif[0]: at most 16 hostfwd rules");
}

static void test_actions(void)
{
	CHECK_EQ(parse(BASE "on_poweroff = 'restart'\non_reboot = 'destroy'\n"
			    "on_crash = 'restart'"),
		 0);
	CHECK_EQ(dc.on_poweroff, DOMAIN_RESTART);
	CHECK_EQ(dc.on_reboot, DOMAIN_DESTROY);
	CHECK_EQ(dc.on_crash, DOMAIN_RESTART);
	/* only restart on reboot is the VMM's own; others end it */
	CHECK_EQ(dc.vm.on_reboot, REBOOT_EXIT);
	CHECK_EQ(parse(BASE "on_reboot = 'preserve'"), 0);
	CHECK_EQ(dc.on_reboot, DOMAIN_PRESERVE);
	CHECK_EQ(dc.vm.on_reboot, REBOOT_EXIT);
	CHECK_EQ(parse(BASE "on_reboot = 'restart'"), 0);
	CHECK_EQ(dc.vm.on_reboot, REBOOT_RESTART);

	EXPECT_WARN(BASE "on_crash = 'coredump-restart'",
		    "dom.cfg:3: on_crash: mica writes no core dumps yet; "
		    "'coredump-restart' is done as 'restart'");
	CHECK_EQ(dc.on_crash, DOMAIN_RESTART);
	EXPECT_WARN(BASE "on_crash = 'coredump-destroy'", "as 'destroy'");
	CHECK_EQ(dc.on_crash, DOMAIN_DESTROY);
	EXPECT_ERR(BASE "on_crash = 'rename-restart'",
		   "on_crash: 'rename-restart' is not supported");
	EXPECT_ERR(BASE "on_reboot = 'soft-reset'", "'soft-reset'");
	EXPECT_ERR(BASE "on_poweroff = 'explode'",
		   "on_poweroff: unknown action 'explode'");
	EXPECT_ERR(BASE "on_poweroff = 1", "on_poweroff: expected an action");

	CHECK_STR(domcfg_action_name(DOMAIN_DESTROY), "destroy");
	CHECK_STR(domcfg_action_name(DOMAIN_RESTART), "restart");
	CHECK_STR(domcfg_action_name(DOMAIN_PRESERVE), "preserve");
}

static void test_uuid(void)
{
	uint8_t u[16];
	char buf[37];

	CHECK_EQ(domcfg_uuid_parse("6f3c2a1e-5b7d-4e2f-9a10-3c4d5e6f7a8b", u),
		 0);
	domcfg_uuid_format(u, buf);
	CHECK_STR(buf, "6f3c2a1e-5b7d-4e2f-9a10-3c4d5e6f7a8b");
	CHECK_EQ(domcfg_uuid_parse("6F3C2A1E-5B7D-4E2F-9A10-3C4D5E6F7A8B", u),
		 0);
	domcfg_uuid_format(u, buf);
	CHECK_STR(buf, "6f3c2a1e-5b7d-4e2f-9a10-3c4d5e6f7a8b");
	CHECK_EQ(domcfg_uuid_parse("6f3c2a1e5b7d4e2f9a103c4d5e6f7a8b", u),
		 -EINVAL);
	CHECK_EQ(domcfg_uuid_parse("6f3c2a1e-5b7d-4e2f-9a10-3c4d5e6f7a8", u),
		 -EINVAL);
	CHECK_EQ(domcfg_uuid_parse("6f3c2a1e-5b7d-4e2f-9a10-3c4d5e6f7a8bb", u),
		 -EINVAL);
	CHECK_EQ(domcfg_uuid_parse("6f3c2a1e-5b7d-4e2f-9a10_3c4d5e6f7a8b", u),
		 -EINVAL);
	CHECK_EQ(domcfg_uuid_parse("6f3c2a1e-5b7d-4e2f-9a10-3c4d5e6f7a8g", u),
		 -EINVAL);
	CHECK_EQ(domcfg_uuid_parse("6f3c2a1e-5b7d-4e2f-9a1-03c4d5e6f7a8b", u),
		 -EINVAL);

	CHECK_EQ(parse(BASE "uuid = '00000000-0000-0000-0000-000000000001'"),
		 0);
	CHECK(dc.has_uuid);
	CHECK_EQ(dc.uuid[15], 1);
	EXPECT_ERR(BASE "uuid = 'not-a-uuid'",
		   "dom.cfg:3: uuid: 'not-a-uuid' is not a UUID");
	EXPECT_ERR(BASE "uuid = '00000000-0000-0000-0000-000000000000'",
		   "nil UUID");
	EXPECT_ERR(BASE "uuid = 5", "uuid: expected a UUID in quotes");
}

static void test_serial_console_rng(void)
{
	CHECK_EQ(parse(BASE "serial = 'pty'"), 0);
	CHECK_EQ(dc.vm.console, CONSOLE_SERIAL);
	CHECK_EQ(parse(BASE "serial = [ 'pty' ]"), 0);
	CHECK_EQ(parse(BASE "serial = [ ]"), 0);
	CHECK_EQ(parse(BASE "serial = 'pty'\nconsole = 'serial'"), 0);
	EXPECT_ERR(BASE "serial = 'file:/tmp/log'",
		   "serial: 'file:/tmp/log' is not supported");
	EXPECT_ERR(BASE "serial = [ 'pty', 'pty' ]", "one serial port, not 2");
	EXPECT_ERR(BASE "serial = 1", "serial: expected 'pty'");
	EXPECT_ERR(BASE "serial = 'pty'\nconsole = 'virtio'",
		   "dom.cfg:4: console: 'virtio' makes hvc0 the console");
	EXPECT_ERR(BASE "console = 'hvc'",
		   "dom.cfg:3: console 'hvc': expected 'serial' or 'virtio'");

	CHECK_EQ(parse(BASE "rng = 'on'"), 0);
	CHECK_EQ(dc.vm.rng_rate, DEVOPTS_RNG_DEFAULT_RATE);
	CHECK_EQ(parse(BASE "rng = 'off'"), 0);
	CHECK_EQ(dc.vm.rng_rate, 0);
	CHECK_EQ(parse(BASE "rng = 'rate=4096'"), 0);
	CHECK_EQ(dc.vm.rng_rate, 4096);
	EXPECT_ERR(BASE "rng = 'rate=1'", "rng 'rate=1': rate must be");
	EXPECT_ERR(BASE "rng = 'yes'", "rng 'yes': expected on, off");
	EXPECT_ERR(BASE "rng = 1", "rng: expected 'on', 'off'");

	CHECK_EQ(parse(BASE "autostart = 0"), 0);
	CHECK(!dc.autostart);
	CHECK_EQ(parse(BASE "autostart = 'true'"), 0);
	CHECK(dc.autostart);
	CHECK_EQ(parse(BASE "autostart = 'off'"), 0);
	CHECK(!dc.autostart);
	CHECK_EQ(parse(BASE "autostart = 2"), 0); /* xl: nonzero is true */
	CHECK(dc.autostart);
	EXPECT_ERR(BASE "autostart = 'maybe'",
		   "autostart: expected 1 or 0 (true or false), not 'maybe'");
	EXPECT_ERR(BASE "autostart = []", "not a list");
}

static void test_cpus(void)
{
	CHECK_EQ(parse(BASE "cpus = '3'"), 0);
	CHECK_EQ(dc.vm.nr_vcpu_affinity, 1);
	CHECK_EQ(dc.vm.vcpu_affinity[0], 3);
	CHECK_EQ(parse(BASE "cpus = 5"), 0);
	CHECK_EQ(dc.vm.vcpu_affinity[0], 5);
	CHECK_EQ(parse(BASE "cpus = 'all'"), 0);
	CHECK_EQ(dc.vm.nr_vcpu_affinity, 0);
	CHECK_EQ(parse(BASE "cpus = [ 0, 1, '1023' ]"), 0);
	CHECK_EQ(dc.vm.nr_vcpu_affinity, 3);
	CHECK_EQ(dc.vm.vcpu_affinity[2], 1023);
	EXPECT_ERR(BASE "cpus = '0-3'",
		   "cpus: '0-3': mica pins each vCPU to one host CPU");
	EXPECT_ERR(BASE "cpus = [ '0-1', 2 ]", "'0-1'");
	EXPECT_ERR(BASE "cpus = 'nodes:0'", "'nodes:0'");
	EXPECT_ERR(BASE "cpus = [ 1024 ]", "cpus: CPU 1024 is above 1023");
	EXPECT_ERR(BASE "cpus = [ [1] ]", "cpus: a list");
}

static void test_type_and_xen_keys(void)
{
	CHECK_EQ(parse(BASE "type = 'pvh'"), 0);
	CHECK_EQ(msgs.nr_warnings, 0);
	EXPECT_WARN(BASE "type = 'pv'", "type: mica boots kernel=");
	EXPECT_WARN(BASE "type = 'hvm'", "has none");
	EXPECT_ERR(BASE "type = 'xen'", "type: unknown type 'xen'");

	EXPECT_WARN(BASE "builder = 'generic'",
		    "dom.cfg:3: 'builder' is Xen-only, ignored");
	EXPECT_WARN(BASE "vnc = 1\nvnclisten = '0.0.0.0'",
		    "dom.cfg:4: 'vnclisten' is Xen-only, ignored: mica has no "
		    "graphical console");
	EXPECT_WARN(BASE "device_model_version = 'qemu-xen'",
		    "'device_model_version' is Xen-only");
	EXPECT_WARN(BASE "cpu_weight = 256", "Xen scheduler");
	EXPECT_WARN(BASE "pool = 'Pool-0'", "'pool' is Xen-only");
	EXPECT_WARN(BASE "on_watchdog = 'destroy'", "watchdog");
	EXPECT_WARN(BASE "vfb = [ 'vnc=1' ]", "'vfb' is Xen-only");
	EXPECT_WARN(BASE "pci_permissive = 1", "'pci_permissive'");
	/* several warnings, in dc.warnings one per line */
	CHECK_EQ(parse(BASE "builder = 'x'\npool = 'y'\nlocaltime = 1"), 0);
	CHECK_EQ(msgs.nr_warnings, 3);
	CHECK(strstr(dc.warnings, "'builder'"));
	CHECK(strstr(dc.warnings, "dom.cfg:5: 'localtime'"));
	CHECK_EQ(dc.warnings[strlen(dc.warnings) - 1], '\n');

	EXPECT_ERR(BASE "bootloader = 'pygrub'",
		   "dom.cfg:3: 'bootloader' is not supported: mica boots a "
		   "kernel directly");
	EXPECT_ERR(BASE "pci = [ '01:00.0' ]",
		   "'pci' is not supported: PCI passthrough");
	EXPECT_ERR(BASE "firmware = 'ovmf'", "no firmware");
	EXPECT_ERR(BASE "vtpm = [ 'backend=x' ]", "TPM");
	EXPECT_ERR(BASE "p9 = [ 'tag=x' ]", "9pfs");
}

static void test_unknown_and_duplicate(void)
{
	EXPECT_ERR("name = 'a'\nkernel = 'k'\n\n\n\n\nmemroy = 512\n",
		   "dom.cfg:7: unknown key 'memroy' (did you mean "
		   "'memory'?)");
	EXPECT_ERR(BASE "vpcus = 2", "(did you mean 'vcpus'?)");
	EXPECT_ERR(BASE "kernal = 'x'", "(did you mean 'kernel'?)");
	EXPECT_ERR(BASE "frobnicate = 1", "dom.cfg:3: unknown key 'frobnicate' "
					  "(docs/config.md lists the keys)");
	EXPECT_ERR(BASE "x = 1", "unknown key 'x' (docs");
	EXPECT_ERR(BASE "memory = 512\nvcpus = 1\nmemory = 1024",
		   "dom.cfg:5: 'memory' is set twice (also on line 3)");
	EXPECT_ERR(BASE "vnc = 1\nvnc = 0", "'vnc' is set twice");
	EXPECT_ERR(BASE "extra += ' quiet'",
		   "dom.cfg:3: 'extra +=' is not supported");
	/* an error stops at the first: later ones are not reported */
	EXPECT_ERR(BASE "memory = 'x'\nbogus = 1", "dom.cfg:3: memory");
	/* an unknown key after a warning: the error, and the warning kept */
	EXPECT_ERR(BASE "pool = 'p'\nbogus = 1", "unknown key 'bogus'");
	CHECK_EQ(msgs.nr_warnings, 1);
}

static void test_syntax_error(void)
{
	EXPECT_ERR(BASE "memory = 512 MiB", "dom.cfg:3:14: expected the end");
	EXPECT_ERR(BASE "disk = [ 'a'\n 'b' ]", "dom.cfg:4:2: expected ','");
	EXPECT_ERR("name = 'a", "dom.cfg:1:8: unterminated string");
	/* a file name with a control character is shown safely */
	domcfg_free(&dc);
	CHECK_EQ(domcfg_parse("x", 1, "a\nb.cfg", DOMCFG_XL, &dc, &msgs),
		 -EINVAL);
	CHECK(!strchr(msgs.error, '\n'));
	CHECK(strstr(msgs.error, "a?b.cfg:1:2"));
	/* explicit xl format for text that starts with '{' */
	CHECK_EQ(parse_as("{", "dom.cfg", DOMCFG_XL), -EINVAL);
	CHECK(strstr(msgs.error, "dom.cfg:1:1: expected a key"));
}

static void test_json(void)
{
	static const char text[] =
		"{\n"
		"  \"name\": \"db1\",\n"
		"  \"memory\": 2048,\n"
		"  \"vcpus\": 2,\n"
		"  \"cpus\": [0, \"1\"],\n"
		"  \"kernel\": \"/boot/vmlinuz\",\n"
		"  \"ramdisk\": \"/boot/initrd\",\n"
		"  \"root\": \"/dev/vda\",\n"
		"  \"disk\": [\"/srv/db1.img,raw,xvda,rw\", "
		"\"format=raw,vdev=xvdb,access=ro,target=/srv/ro.img\"],\n"
		"  \"vif\": [\"\", \"vifname=tap1\"],\n"
		"  \"on_crash\": \"restart\",\n"
		"  \"autostart\": true,\n"
		"  \"rng\": \"on\"\n"
		"}\n";

	CHECK_EQ(parse_as(text, "dom.json", DOMCFG_AUTO), 0);
	CHECK_STR(msgs.error, "");
	CHECK_STR(dc.name, "db1");
	CHECK_EQ(dc.vm.memory, 2048ull << 20);
	CHECK_EQ(dc.vm.cpus, 2);
	CHECK_EQ(dc.vm.nr_vcpu_affinity, 2);
	CHECK_STR(dc.vm.cmdline, "root=/dev/vda");
	CHECK_STR(dc.vm.initrd, "/boot/initrd");
	CHECK_EQ(dc.vm.nr_disks, 2);
	CHECK(dc.vm.disks[1].readonly);
	CHECK_EQ(dc.vm.nr_nets, 2);
	CHECK_EQ(dc.vm.nets[1].backend, NET_TAP);
	CHECK_EQ(dc.on_crash, DOMAIN_RESTART);
	CHECK(dc.autostart);
	CHECK_EQ(dc.vm.rng_rate, DEVOPTS_RNG_DEFAULT_RATE);
	/* explicit JSON format, and leading blanks before '{' */
	CHECK_EQ(parse_as(" \n\t{\"name\":\"a\",\"kernel\":\"k\"}", "x",
			  DOMCFG_JSON),
		 0);
	CHECK_EQ(parse_as("\xef\xbb\xbf{\"name\":\"a\",\"kernel\":\"k\"}", "x",
			  DOMCFG_AUTO),
		 -EINVAL); /* jansson refuses a BOM, and says so */
	CHECK(msgs.error[0]);
}

#define JBASE "{\"name\": \"a\", \"kernel\": \"k\", "

static void test_json_errors(void)
{
	/* the same checks, named by key path */
	EXPECT_ERR(JBASE "\"memory\": \"lots\"}",
		   "dom.json: memory: expected a number of MiB, not 'lots'");
	EXPECT_ERR(JBASE "\"memory\": true}", "memory: expected a number of "
					      "MiB, not true");
	EXPECT_ERR(JBASE "\"memory\": 1.5}",
		   "memory: expected a whole number, not 1.5");
	EXPECT_ERR(JBASE "\"memory\": -512}", "memory: -512 is negative");
	EXPECT_ERR(JBASE "\"memory\": null}", "memory: null is not a value");
	EXPECT_ERR(JBASE "\"memory\": {\"size\": 1}}",
		   "memory: an object is not accepted here");
	EXPECT_ERR(JBASE "\"disk\": [\"/a\", {\"target\": \"/b\"}]}",
		   "dom.json: disk[1]: an object is not accepted here");
	EXPECT_ERR(JBASE "\"disk\": [\"/a,,xvda\", \"/b.qcow2,qcow2\"]}",
		   "dom.json: disk[1]: format 'qcow2' is not supported yet");
	EXPECT_ERR(JBASE "\"memroy\": 1}",
		   "dom.json: unknown key 'memroy' (did you mean 'memory'?)");
	EXPECT_ERR(JBASE "\"autostart\": \"perhaps\"}", "autostart: expected");
	EXPECT_ERR(JBASE "\"name\": \"b\"}", "duplicate object key");
	EXPECT_ERR("{\"name\": \"a\",\n \"kernel\": }", "dom.json:2:");
	EXPECT_ERR("{\"name\": \"a\"", "dom.json:1:");
	EXPECT_ERR("{\"name\": \"a\"} trailing", "end of file expected");
	EXPECT_ERR("{\"name\": \"a\\u0000b\", \"kernel\": \"k\"}", "NUL");
	EXPECT_ERR_RC("{\"name\": \"a\", \"kernel\": \"k\", \"extra\": "
		      "[[[[[[[[[\"deep\"]]]]]]]]]}",
		      -EFBIG,
		      "extra[0][0][0][0][0][0][0][0]: lists nested more");
	EXPECT_ERR(JBASE "\"pool\": \"p\", \"bootloader\": \"pygrub\"}",
		   "dom.json: 'bootloader' is not supported");
	CHECK_EQ(msgs.nr_warnings, 1);
	CHECK(strstr(msgs.warnings[0], "dom.json: 'pool' is Xen-only"));
	EXPECT_ERR("{\"kernel\": \"k\"}", "dom.json: no name");
	EXPECT_ERR_RC(JBASE
		      "\"disk\": [\"/0\",\"/1\",\"/2\",\"/3\",\"/4\","
		      "\"/5\",\"/6\",\"/7\",\"/8\",\"/9\",\"/10\",\"/11\","
		      "\"/12\",\"/13\",\"/14\",\"/15\",\"/16\"]}",
		      -EFBIG, "at most 16");
}

/* parse_as() with the file name dom.json, for EXPECT_ERR on JSON text. */
static void test_json_errors_named(void)
{
	/* parse() names the file dom.cfg; JSON gets the same treatment */
	CHECK_EQ(parse_as("[1, 2]", "dom.json", DOMCFG_JSON), -EINVAL);
	CHECK(strstr(msgs.error, "dom.json: expected a JSON object"));
	CHECK_EQ(parse_as("\"name\"", "dom.json", DOMCFG_JSON), -EINVAL);
	CHECK(strstr(msgs.error, "dom.json"));
}

static void test_from_json_object(void)
{
	json_t *o = json_pack("{s:s, s:s, s:i, s:[s]}", "name", "api1",
			      "kernel", "/k", "vcpus", 3, "disk", "/d,,xvda");
	json_t *bad;

	CHECK(o);
	domcfg_free(&dc);
	CHECK_EQ(domcfg_from_json(o, "request", &dc, &msgs), 0);
	CHECK_STR(dc.name, "api1");
	CHECK_EQ(dc.vm.cpus, 3);
	CHECK_EQ(dc.vm.nr_disks, 1);
	/* a key with a NUL inside, as only an API caller can make */
	bad = json_copy(o);
	json_object_setn_new(bad, "memory\0x", 8, json_integer(64));
	domcfg_free(&dc);
	CHECK_EQ(domcfg_from_json(bad, "request", &dc, &msgs), -EINVAL);
	CHECK(strstr(msgs.error, "request: unknown key 'memory'"));
	json_decref(bad);
	/* an invalid UTF-8 string, also only from an API caller */
	bad = json_copy(o);
	json_object_set_new(bad, "extra", json_stringn_nocheck("\xff", 1));
	domcfg_free(&dc);
	CHECK_EQ(domcfg_from_json(bad, "request", &dc, &msgs), -EINVAL);
	CHECK(strstr(msgs.error, "extra: a string that is not UTF-8"));
	json_decref(bad);
	json_decref(o);
	/* not an object */
	o = json_integer(1);
	domcfg_free(&dc);
	CHECK_EQ(domcfg_from_json(o, NULL, &dc, &msgs), -EINVAL);
	CHECK(strstr(msgs.error, "config: expected a JSON object"));
	json_decref(o);
}

static void check_same(const struct domain_config *a,
		       const struct domain_config *b)
{
	unsigned int i;

	CHECK_STR(a->name, b->name);
	CHECK_EQ(a->has_uuid, b->has_uuid);
	CHECK(!memcmp(a->uuid, b->uuid, 16));
	CHECK_STR(a->vm.kernel, b->vm.kernel);
	CHECK((a->vm.initrd == NULL) == (b->vm.initrd == NULL));
	if (a->vm.initrd && b->vm.initrd)
		CHECK_STR(a->vm.initrd, b->vm.initrd);
	CHECK_STR(a->vm.cmdline, b->vm.cmdline);
	CHECK_EQ(a->vm.cpus, b->vm.cpus);
	CHECK_EQ(a->vm.memory, b->vm.memory);
	CHECK_EQ(a->vm.on_reboot, b->vm.on_reboot);
	CHECK_EQ(a->vm.nr_vcpu_affinity, b->vm.nr_vcpu_affinity);
	CHECK(!memcmp(a->vm.vcpu_affinity, b->vm.vcpu_affinity,
		      sizeof(a->vm.vcpu_affinity)));
	CHECK_EQ(a->vm.nr_disks, b->vm.nr_disks);
	for (i = 0; i < a->vm.nr_disks; i++) {
		CHECK(!memcmp(&a->vm.disks[i], &b->vm.disks[i],
			      sizeof(a->vm.disks[i])));
		CHECK_STR(a->disk_vdev[i], b->disk_vdev[i]);
	}
	CHECK_EQ(a->vm.nr_nets, b->vm.nr_nets);
	for (i = 0; i < a->vm.nr_nets; i++)
		CHECK(!memcmp(&a->vm.nets[i], &b->vm.nets[i],
			      sizeof(a->vm.nets[i])));
	CHECK_EQ(a->vm.console, b->vm.console);
	CHECK_EQ(a->vm.rng_rate, b->vm.rng_rate);
	CHECK_EQ(a->on_poweroff, b->on_poweroff);
	CHECK_EQ(a->on_reboot, b->on_reboot);
	CHECK_EQ(a->on_crash, b->on_crash);
	CHECK_EQ(a->autostart, b->autostart);
}

static void roundtrip(int line, const char *text)
{
	json_t *j, *j2;
	char *s, *s2;

	if (parse(text)) {
		test_fail(__FILE__, line, "parse: %s", msgs.error);
		return;
	}
	j = domcfg_to_json(&dc);
	CHECK(j);
	domcfg_free(&dc2);
	if (domcfg_from_json(j, "canonical", &dc2, &msgs)) {
		test_fail(__FILE__, line, "from_json: %s", msgs.error);
		json_decref(j);
		return;
	}
	CHECK_EQ(msgs.nr_warnings, 0);
	check_same(&dc, &dc2);
	/* and the canonical form is a fixed point, also through text */
	j2 = domcfg_to_json(&dc2);
	s = json_dumps(j, JSON_SORT_KEYS);
	s2 = json_dumps(j2, JSON_SORT_KEYS);
	if (!s || !s2 || strcmp(s, s2))
		test_fail(__FILE__, line, "%s != %s", s ? s : "-",
			  s2 ? s2 : "-");
	domcfg_free(&dc2);
	CHECK_EQ(domcfg_parse(s2, strlen(s2), "text", DOMCFG_AUTO, &dc2, &msgs),
		 0);
	check_same(&dc, &dc2);
	free(s);
	free(s2);
	json_decref(j);
	json_decref(j2);
	domcfg_free(&dc2);
}

static void test_roundtrip(void)
{
	json_t *j;
	char *s;

	roundtrip(__LINE__, BASE);
	roundtrip(__LINE__,
		  "name = 'full'\n"
		  "uuid = '6f3c2a1e-5b7d-4e2f-9a10-3c4d5e6f7a8b'\n"
		  "memory = 3000\nvcpus = 3\ncpus = [ 4, 5 ]\n"
		  "kernel = '/boot/vmlinuz'\nramdisk = '/boot/initrd'\n"
		  "root = '/dev/vda1'\nextra = 'quiet'\n"
		  "disk = [ 'phy:/dev/vg/x,xvdb,w', '/none.img',\n"
		  "  '/srv/ab.img,raw,xvda,ro,serial=S1,cache=unsafe,"
		  "queues=2',\n"
		  "  'vdev=hdc,cache=none,target=/srv/comma, space.img' ]\n"
		  "vif = [ '', 'vifname=tap0,mac=00:16:3e:aa:bb:cc',\n"
		  "  'hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:53-"
		  "10.0.2.15:53' ]\n"
		  "on_poweroff = 'preserve'\non_reboot = 'destroy'\n"
		  "on_crash = 'restart'\nconsole = 'virtio'\n"
		  "rng = 'rate=64K'\nautostart = 1\n");
	roundtrip(__LINE__, BASE "cmdline = ''\nrng = 'on'\nserial = 'pty'");

	/* what the canonical form looks like */
	CHECK_EQ(parse(BASE "disk = [ '/srv/a.img,,xvda' ]\n"
			    "vif = [ 'mac=00:16:3e:00:00:01' ]"),
		 0);
	j = domcfg_to_json(&dc);
	s = json_dumps(j, JSON_COMPACT);
	CHECK_STR(s,
		  "{\"name\":\"web1\",\"memory\":512,\"vcpus\":1,"
		  "\"kernel\":\"/boot/vmlinuz\",\"cmdline\":\"console=ttyS0\","
		  "\"disk\":[\"format=raw,vdev=xvda,access=rw,target=/srv/"
		  "a.img\"],\"vif\":[\"mac=00:16:3e:00:00:01\"],"
		  "\"on_poweroff\":\"destroy\",\"on_reboot\":\"restart\","
		  "\"on_crash\":\"destroy\",\"console\":\"serial\","
		  "\"rng\":\"off\",\"autostart\":false}");
	free(s);
	json_decref(j);
}

static void test_limits(void)
{
	char *big = malloc(XLCFG_MAX_TEXT + 2);

	if (!big) {
		CHECK(big);
		return;
	}
	memset(big, ' ', XLCFG_MAX_TEXT + 1);
	memcpy(big, BASE, strlen(BASE));
	domcfg_free(&dc);
	CHECK_EQ(domcfg_parse(big, XLCFG_MAX_TEXT, "big.cfg", DOMCFG_AUTO, &dc,
			      &msgs),
		 0);
	domcfg_free(&dc);
	CHECK_EQ(domcfg_parse(big, XLCFG_MAX_TEXT + 1, "big.cfg", DOMCFG_AUTO,
			      &dc, &msgs),
		 -EFBIG);
	CHECK(strstr(msgs.error, "big.cfg: larger than 1024 KiB"));
	big[0] = '{';
	domcfg_free(&dc);
	CHECK_EQ(domcfg_parse(big, XLCFG_MAX_TEXT + 1, "big.json", DOMCFG_AUTO,
			      &dc, &msgs),
		 -EFBIG);
	free(big);
}

static void test_many_warnings(void)
{
	char text[8192];
	size_t n = (size_t)snprintf(text, sizeof(text), BASE);
	unsigned int i;

	for (i = 0; i < DOMCFG_MAX_WARNINGS + 5; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "vnc%u = 1\n",
				      i);
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(msgs.nr_warnings, DOMCFG_MAX_WARNINGS);
	CHECK_EQ(msgs.dropped_warnings, 5);
	CHECK(strstr(dc.warnings, "'vnc31'"));
	CHECK(!strstr(dc.warnings, "'vnc32'"));
}

static void test_load(void)
{
	static const char text[] = BASE "memory = 256\n";
	const char *path = test_tmpfile("dom.cfg", text, sizeof(text) - 1);
	char missing[4200];

	CHECK(path);
	if (!path)
		return;
	domcfg_free(&dc);
	CHECK_EQ(domcfg_load(path, &dc, &msgs), 0);
	CHECK_STR(dc.path, path);
	CHECK_EQ(dc.vm.memory, 256ull << 20);
	domcfg_free(&dc);
	CHECK(!dc.path);

	path = test_tmpfile("bad.cfg", "name='a'\nkernel='k'\nmemroy=1\n", 29);
	CHECK_EQ(domcfg_load(path, &dc, &msgs), -EINVAL);
	CHECK(strstr(msgs.error, "bad.cfg:3: unknown key 'memroy'"));
	CHECK(!dc.path);

	snprintf(missing, sizeof(missing), "%s.missing", path);
	CHECK_EQ(domcfg_load(missing, &dc, &msgs), -ENOENT);
	CHECK(strstr(msgs.error, ".missing: No such file or directory"));
	/* a directory: read() fails */
	CHECK_EQ(domcfg_load("/", &dc, &msgs), -EISDIR);
	CHECK(strstr(msgs.error, "/: Is a directory"));
}

static void test_cleanup(void)
{
	domcfg_free(&dc);
	domcfg_free(&dc2);
	CHECK(is_zero(&dc, sizeof(dc)));
}

TEST_SUITE(domcfg, TEST_CASE(test_minimal), TEST_CASE(test_every_key),
	   TEST_CASE(test_cmdline), TEST_CASE(test_cmdline_too_long),
	   TEST_CASE(test_name), TEST_CASE(test_kernel),
	   TEST_CASE(test_memory_vcpus), TEST_CASE(test_disk_positional),
	   TEST_CASE(test_disk_keys), TEST_CASE(test_disk_order),
	   TEST_CASE(test_disk_errors), TEST_CASE(test_vif),
	   TEST_CASE(test_vif_default_macs_distinct),
	   TEST_CASE(test_hostfwd_limit), TEST_CASE(test_actions),
	   TEST_CASE(test_uuid), TEST_CASE(test_serial_console_rng),
	   TEST_CASE(test_cpus), TEST_CASE(test_type_and_xen_keys),
	   TEST_CASE(test_unknown_and_duplicate), TEST_CASE(test_syntax_error),
	   TEST_CASE(test_json), TEST_CASE(test_json_errors),
	   TEST_CASE(test_json_errors_named), TEST_CASE(test_from_json_object),
	   TEST_CASE(test_roundtrip), TEST_CASE(test_limits),
	   TEST_CASE(test_many_warnings), TEST_CASE(test_load),
	   TEST_CASE(test_cleanup));
