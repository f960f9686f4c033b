/* Test /init for boot tests until bulwark's PID 1 role exists.
 * Prints a marker with the uptime and what the kernel set up (DHCP lease,
 * block devices, the VM generation ID device), then powers off -- or, with testinit=wait on the command
 * line, first waits for SIGTERM (the ACPI power button) or SIGINT
 * (Ctrl-Alt-Del). */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/stat.h>

static void cat(const char *tag, const char *path)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	if (!f) { printf("testinit: %s: cannot open %s\n", tag, path); return; }
	while (fgets(buf, sizeof buf, f))
		printf("testinit: %s: %s", tag, buf);
	(void)fclose(f); /* read-only */
}

/* The devices the VM generation ID driver bound (QEMU's is QEMUVGID:00). */
static void vmgenid(void)
{
	const char *drv = "/sys/bus/platform/drivers/vmgenid";
	struct dirent *e;
	DIR *d;
	int n = 0;

	mkdir("/sys", 0555);
	if (mount("sysfs", "/sys", "sysfs", 0, 0) != 0) {
		printf("testinit: vmgenid: cannot mount sysfs\n");
		return;
	}
	d = opendir(drv);
	if (!d) {
		printf("testinit: vmgenid: no driver\n");
		return;
	}
	/* cppcheck-suppress readdirCalled ; readdir_r is obsolete (POSIX.1-2024), and testinit has one thread */
	while ((e = readdir(d)) != 0) {
		if (strchr(e->d_name, ':')) {
			printf("testinit: vmgenid: bound %s\n", e->d_name);
			n++;
		}
	}
	(void)closedir(d); /* read-only */
	if (!n)
		printf("testinit: vmgenid: no device\n");
}

int main(void)
{
	char cmdline[4096] = "", up[64] = "?";
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, 0);
	reboot(RB_DISABLE_CAD);
	mkdir("/proc", 0555);
	mount("proc", "/proc", "proc", 0, 0);
	mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
	int fd = open("/dev/console", O_WRONLY);
	if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
	(void)setvbuf(stdout, 0, _IOLBF, 0); /* fails only for a bad mode */
	FILE *f = fopen("/proc/uptime", "r");
	if (f) {
		if (!fgets(up, sizeof up, f))
			memcpy(up, "?", 2);
		(void)fclose(f);
		up[strcspn(up, " ")] = 0;
	}
	f = fopen("/proc/cmdline", "r");
	if (f) {
		if (!fgets(cmdline, sizeof cmdline, f))
			cmdline[0] = 0;
		(void)fclose(f);
	}
	printf("BULWARK-TESTINIT-READY uptime=%s\n", up);
	printf("testinit: cmdline: %s", cmdline);
	cat("pnp", "/proc/net/pnp");
	cat("partitions", "/proc/partitions");
	vmgenid();
	if (strstr(cmdline, "testinit=wait")) {
		unsigned char b[16];
		/* Blocks until the kernel's CRNG is seeded: only a seeded CRNG is
		 * reseeded (and says so) when the VM generation ID changes. */
		if (getrandom(b, sizeof b, 0) == (ssize_t)sizeof b)
			printf("testinit: crng ready\n");
		printf("testinit: waiting for SIGTERM or SIGINT\n");
		sigwait(&set, &sig);
		printf("BULWARK-TESTINIT-SIGNAL %s\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	}
	printf("BULWARK-TESTINIT-POWEROFF\n");
	tcdrain(1);  /* the UART's buffer, before the machine goes away */
	sync();
	reboot(RB_POWER_OFF);
	return 1;
}
