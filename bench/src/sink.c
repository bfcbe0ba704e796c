/*
 * sink: UDP receiver for the forwarding benchmark.
 *
 *   sink --port PORT [--group GROUP --join LOCAL_ADDR ...] --run ID --seconds S
 *        [--rcvbuf BYTES] [--batch N] [--max-seq N] [--idle-ms MS] [--drain-ms MS] [--cpu N]
 *
 * Binds PORT on every address and joins each --group on each --join interface (by its local address;
 * without --group it receives unicast). It prints {"event":"ready"} once joined, then receives with
 * recvmmsg until SIGTERM or SIGINT, after which it keeps receiving until nothing arrived for --idle-ms
 * (at most --drain-ms), or until the --seconds bound; then it prints one JSON report line.
 *
 * Packets are counted per stream, a stream being (arrival interface, flow of the generator), so the
 * copies a fan-out delivers on several interfaces are counted apart. Per stream: unique sequence
 * numbers (a bitmap of --max-seq bits allocated when the stream first appears), duplicates, and
 * reordered packets (a sequence number below the highest seen). Latency is the CLOCK_MONOTONIC time
 * after recvmmsg returned minus the send time in the payload, kept in a fixed log-linear histogram
 * (64 sub-buckets per power of two: about 1.6% resolution); nothing is allocated per packet.
 * Packets of another --run (late packets of an earlier probe) and foreign payloads are counted apart.
 */
#include "common.h"

#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#define TOOL "sink"
#define MAX_GROUPS 32
#define MAX_JOINS 32
#define MAX_STREAMS 128
#define MAX_BATCH 1024
#define SLOT_BYTES 2048 /* larger datagrams are counted as truncated */

/* --------------------------------------------------------------------------------------- histogram */

#define SUB_BITS 6
#define SUB_COUNT (1 << SUB_BITS)
#define HIST_BUCKETS ((64 - SUB_BITS + 1) * SUB_COUNT)

struct histogram {
  uint64_t counts[HIST_BUCKETS];
  uint64_t total;
  uint64_t min;
  uint64_t max;
};

/* Values below 64 have a bucket each; above, each power of two is split into 64 equal buckets. */
static int bucket_of(uint64_t v) {
  if (v < SUB_COUNT) return (int)v;
  int exponent = 63 - __builtin_clzll(v); /* >= SUB_BITS */
  int shift = exponent - SUB_BITS;
  return (shift + 1) * SUB_COUNT + (int)((v >> shift) & (SUB_COUNT - 1));
}

/* The smallest value of a bucket. */
static uint64_t bucket_floor(int index) {
  if (index < SUB_COUNT) return (uint64_t)index;
  int shift = index / SUB_COUNT - 1;
  return ((uint64_t)SUB_COUNT + (uint64_t)(index % SUB_COUNT)) << shift;
}

static void histogram_add(struct histogram *h, uint64_t v) {
  h->counts[bucket_of(v)]++;
  if (h->total == 0 || v < h->min) h->min = v;
  if (v > h->max) h->max = v;
  h->total++;
}

/* The value below which `fraction` of the samples lie (the middle of the bucket holding it). */
static uint64_t histogram_quantile(const struct histogram *h, double fraction) {
  if (h->total == 0) return 0;
  uint64_t rank = (uint64_t)(fraction * (double)h->total);
  if (rank >= h->total) rank = h->total - 1;
  uint64_t seen = 0;
  for (int i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen > rank) {
      uint64_t low = bucket_floor(i), high = i + 1 < HIST_BUCKETS ? bucket_floor(i + 1) : low;
      uint64_t mid = low + (high - low) / 2;
      return mid < h->min ? h->min : mid > h->max ? h->max : mid;
    }
  }
  return h->max;
}

/* ----------------------------------------------------------------------------------------- streams */

struct stream {
  int ifindex;
  uint32_t flow;
  uint64_t unique;
  uint64_t duplicates;
  uint64_t reordered;
  uint64_t beyond_bitmap; /* sequence numbers >= --max-seq: received but not checked */
  uint64_t highest;
  int any;
  uint64_t *seen; /* bitmap of max_seq bits */
};

struct state {
  struct stream streams[MAX_STREAMS];
  int stream_count;
  uint64_t streams_overflow; /* packets of streams beyond MAX_STREAMS */
  uint64_t max_seq;
  uint32_t run;
  uint64_t datagrams;
  uint64_t other_run;
  uint64_t foreign;
  uint64_t truncated;
  uint32_t socket_drops; /* SO_RXQ_OVFL: datagrams the kernel dropped at this socket */
  uint64_t first_ns, last_ns;
  struct histogram latency;
};

static struct stream *find_stream(struct state *s, int ifindex, uint32_t flow) {
  for (int i = 0; i < s->stream_count; i++)
    if (s->streams[i].ifindex == ifindex && s->streams[i].flow == flow) return &s->streams[i];
  if (s->stream_count == MAX_STREAMS) return NULL;
  struct stream *st = &s->streams[s->stream_count++];
  st->ifindex = ifindex;
  st->flow = flow;
  st->seen = calloc((size_t)(s->max_seq / 64 + 1), sizeof(uint64_t));
  if (st->seen == NULL) die_status(1, TOOL, "out of memory for a %llu-bit bitmap", (unsigned long long)s->max_seq);
  return st;
}

static void account(struct state *s, const unsigned char *data, size_t len, int ifindex, uint64_t now) {
  struct bench_header h;
  if (len < sizeof h) { s->foreign++; return; }
  memcpy(&h, data, sizeof h);
  if (h.magic != BENCH_MAGIC) { s->foreign++; return; }
  if (h.run != s->run) { s->other_run++; return; }
  struct stream *st = find_stream(s, ifindex, h.flow);
  if (st == NULL) { s->streams_overflow++; return; }
  if (h.seq >= s->max_seq) {
    st->beyond_bitmap++;
  } else {
    uint64_t bit = 1ull << (h.seq % 64);
    uint64_t *word = &st->seen[h.seq / 64];
    if (*word & bit) { st->duplicates++; return; }
    *word |= bit;
    st->unique++;
  }
  if (st->any && h.seq < st->highest) st->reordered++;
  else st->highest = h.seq;
  st->any = 1;
  if (s->first_ns == 0) s->first_ns = now;
  s->last_ns = now;
  histogram_add(&s->latency, now >= h.sent_ns ? now - h.sent_ns : 0);
}

/* ----------------------------------------------------------------------------------------- options */

struct options {
  uint16_t port;
  struct in_addr groups[MAX_GROUPS];
  int group_count;
  struct in_addr joins[MAX_JOINS];
  int join_count;
  uint32_t run;
  uint64_t duration_ns;
  int rcvbuf;
  int batch;
  uint64_t max_seq;
  uint64_t idle_ns;
  uint64_t drain_ns;
  int cpu;
};

static void usage(void) {
  fprintf(stderr,
          "usage: sink --port PORT [--group GROUP ...] [--join LOCAL_ADDR ...] --run ID --seconds S\n"
          "            [--rcvbuf BYTES] [--batch N] [--max-seq N] [--idle-ms MS] [--drain-ms MS] [--cpu N]\n");
  exit(2);
}

static struct options parse_options(int argc, char **argv) {
  static const struct option longopts[] = {
      {"port", required_argument, NULL, 'p'},   {"group", required_argument, NULL, 'g'},
      {"join", required_argument, NULL, 'j'},   {"run", required_argument, NULL, 'R'},
      {"seconds", required_argument, NULL, 't'}, {"rcvbuf", required_argument, NULL, 'r'},
      {"batch", required_argument, NULL, 'B'},  {"max-seq", required_argument, NULL, 'm'},
      {"idle-ms", required_argument, NULL, 'i'}, {"drain-ms", required_argument, NULL, 'D'},
      {"cpu", required_argument, NULL, 'c'},    {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  struct options o;
  memset(&o, 0, sizeof o);
  o.rcvbuf = 32 << 20;
  o.batch = 256;
  o.max_seq = 1ull << 24;
  o.idle_ns = 100 * 1000000ull;
  o.drain_ns = 2000 * 1000000ull;
  o.cpu = -1;
  int have_run = 0, opt;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
      case 'p': o.port = (uint16_t)parse_u64(TOOL, "--port", optarg, 1, 65535); break;
      case 'g':
        if (o.group_count == MAX_GROUPS) die_status(2, TOOL, "--group: at most %d groups", MAX_GROUPS);
        o.groups[o.group_count++] = parse_ipv4(TOOL, "--group", optarg);
        break;
      case 'j':
        if (o.join_count == MAX_JOINS) die_status(2, TOOL, "--join: at most %d interfaces", MAX_JOINS);
        o.joins[o.join_count++] = parse_ipv4(TOOL, "--join", optarg);
        break;
      case 'R': o.run = (uint32_t)parse_u64(TOOL, "--run", optarg, 0, UINT32_MAX); have_run = 1; break;
      case 't': o.duration_ns = parse_seconds_ns(TOOL, "--seconds", optarg); break;
      case 'r': o.rcvbuf = (int)parse_u64(TOOL, "--rcvbuf", optarg, 4096, INT_MAX / 2); break;
      case 'B': o.batch = (int)parse_u64(TOOL, "--batch", optarg, 1, MAX_BATCH); break;
      case 'm': o.max_seq = parse_u64(TOOL, "--max-seq", optarg, 64, 1ull << 32); break;
      case 'i': o.idle_ns = parse_u64(TOOL, "--idle-ms", optarg, 1, 60000) * 1000000ull; break;
      case 'D': o.drain_ns = parse_u64(TOOL, "--drain-ms", optarg, 1, 600000) * 1000000ull; break;
      case 'c': o.cpu = (int)parse_u64(TOOL, "--cpu", optarg, 0, CPU_SETSIZE - 1); break;
      default: usage();
    }
  }
  if (optind != argc) die_status(2, TOOL, "unexpected argument \"%s\"", argv[optind]);
  if (o.port == 0) die_status(2, TOOL, "--port is required");
  if (!have_run) die_status(2, TOOL, "--run is required");
  if (o.duration_ns == 0) die_status(2, TOOL, "--seconds is required (receiving must be bounded)");
  if (o.group_count > 0 && o.join_count == 0) die_status(2, TOOL, "--group needs at least one --join interface address");
  return o;
}

/* ------------------------------------------------------------------------------------------ socket */

static int open_socket(const struct options *o) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die_status(1, TOOL, "socket: %s", strerror(errno));
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) die_status(1, TOOL, "SO_REUSEADDR: %s", strerror(errno));
  /* SO_RCVBUFFORCE (root) goes past net.core.rmem_max; otherwise settle for what SO_RCVBUF allows. */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &o->rcvbuf, sizeof o->rcvbuf) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof o->rcvbuf) != 0)
    die_status(1, TOOL, "SO_RCVBUF %d: %s", o->rcvbuf, strerror(errno));
  if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0) die_status(1, TOOL, "IP_PKTINFO: %s", strerror(errno));
  if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0) die_status(1, TOOL, "SO_RXQ_OVFL: %s", strerror(errno));
  /* Only the groups joined here, not every group some other socket of the namespace joined. */
  int zero = 0;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero) != 0) die_status(1, TOOL, "IP_MULTICAST_ALL: %s", strerror(errno));
  /* Wake up regularly to notice the stop signal and the deadline even when nothing arrives. */
  struct timeval tv = {0, 20000};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) die_status(1, TOOL, "SO_RCVTIMEO: %s", strerror(errno));
  struct sockaddr_in local;
  memset(&local, 0, sizeof local);
  local.sin_family = AF_INET;
  local.sin_port = htons(o->port);
  local.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) die_status(1, TOOL, "bind port %u: %s", o->port, strerror(errno));
  for (int g = 0; g < o->group_count; g++) {
    for (int j = 0; j < o->join_count; j++) {
      struct ip_mreq mreq = {o->groups[g], o->joins[j]};
      if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
        char group[INET_ADDRSTRLEN], iface[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &o->groups[g], group, sizeof group);
        inet_ntop(AF_INET, &o->joins[j], iface, sizeof iface);
        die_status(1, TOOL, "IP_ADD_MEMBERSHIP %s on %s: %s", group, iface, strerror(errno));
      }
    }
  }
  return fd;
}

/* ---------------------------------------------------------------------------------------- receiving */

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

struct slots {
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  unsigned char data[MAX_BATCH][SLOT_BYTES];
  /* IP_PKTINFO and SO_RXQ_OVFL control messages. */
  unsigned char control[MAX_BATCH][CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(uint32_t))];
};

static void reset_slots(struct slots *sl, int batch) {
  for (int i = 0; i < batch; i++) {
    sl->iov[i].iov_base = sl->data[i];
    sl->iov[i].iov_len = SLOT_BYTES;
    memset(&sl->msgs[i].msg_hdr, 0, sizeof sl->msgs[i].msg_hdr);
    sl->msgs[i].msg_hdr.msg_iov = &sl->iov[i];
    sl->msgs[i].msg_hdr.msg_iovlen = 1;
    sl->msgs[i].msg_hdr.msg_control = sl->control[i];
    sl->msgs[i].msg_hdr.msg_controllen = sizeof sl->control[i];
  }
}

static void handle_message(struct state *s, struct msghdr *m, unsigned len, uint64_t now) {
  int ifindex = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof info);
      ifindex = info.ipi_ifindex;
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
      uint32_t drops;
      memcpy(&drops, CMSG_DATA(c), sizeof drops);
      if (drops > s->socket_drops) s->socket_drops = drops;
    }
  }
  s->datagrams++;
  if (m->msg_flags & MSG_TRUNC) { s->truncated++; return; }
  account(s, m->msg_iov[0].iov_base, len, ifindex, now);
}

static void receive(int fd, struct state *s, const struct options *o) {
  static struct slots sl;
  const uint64_t deadline = mono_ns() + o->duration_ns;
  uint64_t drain_start = 0, last_arrival = 0;
  for (;;) {
    uint64_t now = mono_ns();
    if (now >= deadline) return;
    if (stop_requested) {
      if (drain_start == 0) drain_start = now;
      uint64_t quiet_since = last_arrival > drain_start ? last_arrival : drain_start;
      if (now - quiet_since >= o->idle_ns || now - drain_start >= o->drain_ns) return;
    }
    reset_slots(&sl, o->batch);
    int n = recvmmsg(fd, sl.msgs, (unsigned)o->batch, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      die_status(1, TOOL, "recvmmsg: %s", strerror(errno));
    }
    now = mono_ns();
    last_arrival = now;
    for (int i = 0; i < n; i++) handle_message(s, &sl.msgs[i].msg_hdr, sl.msgs[i].msg_len, now);
  }
}

/* -------------------------------------------------------------------------------------------- report */

static void print_report(const struct state *s) {
  printf("{\"tool\":\"sink\",\"run\":%u,\"datagrams\":%llu,\"other_run\":%llu,\"foreign\":%llu,\"truncated\":%llu,"
         "\"socket_drops\":%u,\"streams_overflow\":%llu,\"cpu_ns\":%llu,\"run_delay_ns\":%llu,\"first_ns\":%llu,\"last_ns\":%llu,\"streams\":[",
         s->run, (unsigned long long)s->datagrams, (unsigned long long)s->other_run, (unsigned long long)s->foreign,
         (unsigned long long)s->truncated, s->socket_drops, (unsigned long long)s->streams_overflow,
         (unsigned long long)process_cpu_ns(), (unsigned long long)run_delay_ns(), (unsigned long long)s->first_ns, (unsigned long long)s->last_ns);
  for (int i = 0; i < s->stream_count; i++) {
    const struct stream *st = &s->streams[i];
    char name[IF_NAMESIZE] = "";
    if (if_indextoname((unsigned)st->ifindex, name) == NULL) strcpy(name, "?");
    printf("%s{\"ifindex\":%d,\"ifname\":\"%s\",\"flow\":%u,\"unique\":%llu,\"duplicates\":%llu,\"reordered\":%llu,"
           "\"beyond_bitmap\":%llu,\"highest\":%llu}",
           i ? "," : "", st->ifindex, name, st->flow, (unsigned long long)st->unique, (unsigned long long)st->duplicates,
           (unsigned long long)st->reordered, (unsigned long long)st->beyond_bitmap, (unsigned long long)st->highest);
  }
  const struct histogram *h = &s->latency;
  printf("],\"latency_ns\":{\"count\":%llu,\"min\":%llu,\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu}}\n",
         (unsigned long long)h->total, (unsigned long long)h->min, (unsigned long long)histogram_quantile(h, 0.5),
         (unsigned long long)histogram_quantile(h, 0.99), (unsigned long long)histogram_quantile(h, 0.999),
         (unsigned long long)h->max);
  fflush(stdout);
}

int main(int argc, char **argv) {
  struct options o = parse_options(argc, argv);
  if (o.cpu >= 0) pin_to_cpu(TOOL, o.cpu);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a blocked recvmmsg returns EINTR */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  static struct state s;
  s.max_seq = o.max_seq;
  s.run = o.run;
  int fd = open_socket(&o);
  printf("{\"event\":\"ready\"}\n");
  fflush(stdout);
  receive(fd, &s, &o);
  close(fd);
  print_report(&s);
  return 0;
}
