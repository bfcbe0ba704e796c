/*
 * mroute: programs the kernel's IPv4 multicast forwarding for the benchmark, in the namespace it runs in.
 *
 *   mroute --in IFNAME --out IFNAME [--out ...] --source ADDR --group GROUP[/COUNT] [--group ...]
 *   mroute --probe
 *
 * --probe only asks whether this namespace's kernel can route multicast at all: it opens the routing
 * socket, tries MRT_INIT (undone at once), notes whether /proc/net/ip_mr_vif exists, prints one JSON
 * line {"event":"probe",...} with the step that failed and its errno, and exits 0 whatever the answer
 * (a kernel built without CONFIG_IP_MROUTE answers MRT_INIT with ENOPROTOOPT).
 *
 * Opens the multicast routing socket (raw IGMP, MRT_INIT), adds one VIF for --in and one per --out
 * (by ifindex), and one MFC entry per (source, group) forwarding from the --in VIF to every --out VIF
 * (TTL threshold 1: packets need TTL >= 2). GROUP/COUNT adds COUNT consecutive groups from GROUP.
 * It prints {"event":"ready",...} and then holds the routes until SIGTERM or SIGINT, when it prints the
 * packets and wrong-interface arrivals the kernel counted on its MFC entries and exits; closing the
 * socket (MRT_DONE) removes every VIF and MFC entry. Only one such process may run per namespace.
 *
 * The kernel's reverse-path filter still applies to multicast input: the caller turns rp_filter off
 * on the input interface when the source is not routable back through it.
 */
#include "common.h"

#include <getopt.h>
#include <linux/mroute.h>
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TOOL "mroute"
#define MAX_OUTS (MAXVIFS - 1)
#define MAX_GROUPS 65536

struct options {
  const char *in;
  const char *outs[MAX_OUTS];
  int out_count;
  struct in_addr source;
  int have_source;
  struct in_addr groups[MAX_GROUPS];
  int group_count;
  int probe;
};

static void usage(void) {
  fprintf(stderr, "usage: mroute --in IFNAME --out IFNAME [--out ...] --source ADDR --group GROUP[/COUNT] [--group ...]\n");
  fprintf(stderr, "       mroute --probe\n");
  exit(2);
}

static void print_probe(const char *step, int err, int have_proc) {
  printf("{\"event\":\"probe\",\"step\":\"%s\",\"errno\":%d,\"code\":\"%s\",\"error\":\"%s\",\"ip_mr_vif\":%s}\n", step, err,
         err ? strerrorname_np(err) : "", err ? strerror(err) : "", have_proc ? "true" : "false");
}

/* --probe: tries what the routing daemon would do first (see the comment at the top) and reports it. */
static int probe(void) {
  int have_proc = access("/proc/net/ip_mr_vif", F_OK) == 0;
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_IGMP);
  if (fd < 0) {
    print_probe("socket", errno, have_proc);
    return 0;
  }
  int one = 1;
  if (setsockopt(fd, IPPROTO_IP, MRT_INIT, &one, sizeof one) != 0) {
    print_probe("MRT_INIT", errno, have_proc);
    close(fd);
    return 0;
  }
  if (setsockopt(fd, IPPROTO_IP, MRT_DONE, NULL, 0) != 0) {
    print_probe("MRT_DONE", errno, have_proc);
    close(fd);
    return 0;
  }
  close(fd);
  print_probe("MRT_INIT", 0, have_proc);
  return 0;
}

/* Adds GROUP or GROUP/COUNT (COUNT consecutive addresses from GROUP). */
static void add_groups(struct options *o, char *text) {
  uint64_t count = 1;
  char *slash = strchr(text, '/');
  if (slash != NULL) {
    *slash = '\0';
    count = parse_u64(TOOL, "--group", slash + 1, 1, MAX_GROUPS);
  }
  uint32_t first = ntohl(parse_ipv4(TOOL, "--group", text).s_addr);
  for (uint64_t i = 0; i < count; i++) {
    if (o->group_count == MAX_GROUPS) die_status(2, TOOL, "--group: at most %d groups", MAX_GROUPS);
    uint32_t g = first + (uint32_t)i;
    if ((g >> 28) != 0xe) die_status(2, TOOL, "--group: %s/%llu leaves 224.0.0.0/4", text, (unsigned long long)count);
    o->groups[o->group_count++].s_addr = htonl(g);
  }
}

static struct options *parse_options(int argc, char **argv) {
  static const struct option longopts[] = {
      {"in", required_argument, NULL, 'i'},     {"out", required_argument, NULL, 'o'},
      {"source", required_argument, NULL, 's'}, {"group", required_argument, NULL, 'g'},
      {"probe", no_argument, NULL, 'p'},        {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  static struct options o;
  int opt;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
      case 'i': o.in = optarg; break;
      case 'o':
        if (o.out_count == MAX_OUTS) die_status(2, TOOL, "--out: at most %d outputs (the kernel has %d VIFs)", MAX_OUTS, MAXVIFS);
        o.outs[o.out_count++] = optarg;
        break;
      case 's': o.source = parse_ipv4(TOOL, "--source", optarg); o.have_source = 1; break;
      case 'g': add_groups(&o, optarg); break;
      case 'p': o.probe = 1; break;
      default: usage();
    }
  }
  if (optind != argc) die_status(2, TOOL, "unexpected argument \"%s\"", argv[optind]);
  if (o.probe) {
    if (o.in != NULL || o.out_count != 0 || o.have_source || o.group_count != 0) die_status(2, TOOL, "--probe takes no other option");
    return &o;
  }
  if (o.in == NULL || o.out_count == 0 || !o.have_source || o.group_count == 0) usage();
  return &o;
}

static void add_vif(int fd, vifi_t vif, const char *ifname) {
  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) die_status(1, TOOL, "interface %s: %s", ifname, strerror(errno));
  struct vifctl v;
  memset(&v, 0, sizeof v);
  v.vifc_vifi = vif;
  v.vifc_flags = VIFF_USE_IFINDEX;
  v.vifc_threshold = 1;
  v.vifc_lcl_ifindex = (int)ifindex;
  if (setsockopt(fd, IPPROTO_IP, MRT_ADD_VIF, &v, sizeof v) != 0) die_status(1, TOOL, "MRT_ADD_VIF %s: %s", ifname, strerror(errno));
}

static void add_mfc(int fd, struct in_addr source, struct in_addr group, int outs) {
  struct mfcctl m;
  memset(&m, 0, sizeof m);
  m.mfcc_origin = source;
  m.mfcc_mcastgrp = group;
  m.mfcc_parent = 0; /* the --in VIF */
  for (int i = 1; i <= outs; i++) m.mfcc_ttls[i] = 1;
  if (setsockopt(fd, IPPROTO_IP, MRT_ADD_MFC, &m, sizeof m) != 0) die_status(1, TOOL, "MRT_ADD_MFC %s: %s", inet_ntoa(group), strerror(errno));
}

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

int main(int argc, char **argv) {
  struct options *o = parse_options(argc, argv);
  if (o->probe) return probe();
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_IGMP);
  if (fd < 0) die_status(1, TOOL, "socket(AF_INET, SOCK_RAW, IPPROTO_IGMP): %s", strerror(errno));
  int one = 1;
  if (setsockopt(fd, IPPROTO_IP, MRT_INIT, &one, sizeof one) != 0) {
    int err = errno;
    const char *hint = err == ENOPROTOOPT ? "this kernel has no multicast routing: it was built without CONFIG_IP_MROUTE"
                       : err == EADDRINUSE ? "another multicast routing daemon (smcroute, pimd...) holds this namespace's table"
                                           : "see ip(7) and the kernel's multicast routing options";
    die_status(1, TOOL, "MRT_INIT: %s (%s)", strerror(err), hint);
  }
  add_vif(fd, 0, o->in);
  for (int i = 0; i < o->out_count; i++) add_vif(fd, (vifi_t)(i + 1), o->outs[i]);
  for (int g = 0; g < o->group_count; g++) add_mfc(fd, o->source, o->groups[g], o->out_count);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, &old);
  printf("{\"event\":\"ready\",\"vifs\":%d,\"mfc_entries\":%d}\n", o->out_count + 1, o->group_count);
  fflush(stdout);
  /* The kernel queues upcalls (IGMPMSG_NOCACHE ...) on this socket; they are not needed and, once its
   * receive buffer is full, dropped, which does not affect forwarding on the installed entries. */
  while (!stop_requested) sigsuspend(&old);

  unsigned long long packets = 0, bytes = 0, wrong_if = 0;
  for (int g = 0; g < o->group_count; g++) {
    struct sioc_sg_req req;
    memset(&req, 0, sizeof req);
    req.src = o->source;
    req.grp = o->groups[g];
    if (ioctl(fd, SIOCGETSGCNT, &req) != 0) die_status(1, TOOL, "SIOCGETSGCNT %s: %s", inet_ntoa(o->groups[g]), strerror(errno));
    packets += req.pktcnt;
    bytes += req.bytecnt;
    wrong_if += req.wrong_if;
  }
  printf("{\"event\":\"stopped\",\"packets\":%llu,\"bytes\":%llu,\"wrong_if\":%llu}\n", packets, bytes, wrong_if);
  fflush(stdout);
  close(fd);
  return 0;
}
