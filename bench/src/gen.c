/*
 * gen: UDP traffic generator for the forwarding benchmark.
 *
 *   gen --dest GROUP:PORT [--dest ...] --bind LOCAL_ADDR --size BYTES (--count N | --seconds S)
 *       [--rate PPS] [--batch N] [--ttl N] [--tos N] [--run ID] [--cpu N] [--sndbuf BYTES]
 *
 * Sends fixed-size payloads, round-robin over the destinations, with sendmmsg in batches. Each payload
 * starts with struct bench_header: the flow (destination index), a per-flow sequence number and the
 * CLOCK_MONOTONIC send time. --rate 0 (the default) sends flat out; otherwise a token bucket on
 * CLOCK_MONOTONIC paces the packets, holding at most 1 ms worth of tokens (at least one batch), so a
 * late wake-up catches up in a short burst, and the rate actually achieved is reported rather than
 * assumed. A paced
 * sender wakes when about 50 us worth of packets are due (one packet at 20k packets/s, a batch at
 * 1.3M packets/s and above).
 * Sending stops at --count packets or after --seconds, whichever comes first (at least one is
 * required). On exit it prints one JSON line with what it sent.
 *
 * --bind selects the interface: the socket is bound to that address and it is the multicast interface.
 * --tos sets the IPv4 TOS byte of every packet (DSCP << 2 | ECN; default 0).
 */
#include "common.h"

#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TOOL "gen"
#define MAX_FLOWS 64
#define MAX_BATCH 1024
/* Paced sending wakes about every 50 us at most (see send_traffic). */
#define QUANTUM_NS 50000.0
/* Depth of the token bucket (see send_traffic). */
#define BUCKET_NS 1000000.0

struct options {
  struct sockaddr_in dests[MAX_FLOWS];
  int flows;
  struct in_addr bind_addr;
  int have_bind;
  int size;
  uint64_t count;        /* 0 = unbounded by count */
  uint64_t duration_ns;  /* 0 = unbounded by time */
  uint64_t rate;         /* packets per second, 0 = flat out */
  int batch;
  int ttl;
  int tos;
  uint32_t run;
  int cpu;               /* -1 = not pinned */
  int sndbuf;            /* 0 = kernel default */
};

struct result {
  uint64_t sent;
  uint64_t flow_sent[MAX_FLOWS];
  uint64_t errors;
  int first_errno;
  uint64_t elapsed_ns;
  const char *stopped_by;
};

static volatile sig_atomic_t interrupted = 0;

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: gen --dest ADDR:PORT [--dest ...] --bind LOCAL_ADDR --size BYTES (--count N | --seconds S)\n"
          "           [--rate PPS (0 = flat out)] [--batch N] [--ttl N] [--tos N] [--run ID] [--cpu N] [--sndbuf BYTES]\n");
  exit(2);
}

static struct options parse_options(int argc, char **argv) {
  static const struct option longopts[] = {
      {"dest", required_argument, NULL, 'd'},  {"bind", required_argument, NULL, 'b'},
      {"size", required_argument, NULL, 's'},  {"count", required_argument, NULL, 'n'},
      {"seconds", required_argument, NULL, 't'}, {"rate", required_argument, NULL, 'r'},
      {"batch", required_argument, NULL, 'B'}, {"ttl", required_argument, NULL, 'T'},
      {"run", required_argument, NULL, 'R'},   {"cpu", required_argument, NULL, 'c'},
      {"sndbuf", required_argument, NULL, 'S'}, {"tos", required_argument, NULL, 'Q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  struct options o;
  memset(&o, 0, sizeof o);
  o.batch = 64;
  o.ttl = 8;
  o.cpu = -1;
  o.size = -1;
  int opt;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
      case 'd':
        if (o.flows == MAX_FLOWS) die_status(2, TOOL, "--dest: at most %d destinations", MAX_FLOWS);
        o.dests[o.flows++] = parse_endpoint(TOOL, "--dest", optarg);
        break;
      case 'b': o.bind_addr = parse_ipv4(TOOL, "--bind", optarg); o.have_bind = 1; break;
      case 's': o.size = (int)parse_u64(TOOL, "--size", optarg, BENCH_HEADER_SIZE, BENCH_MAX_PAYLOAD); break;
      case 'n': o.count = parse_u64(TOOL, "--count", optarg, 1, UINT64_MAX / 2); break;
      case 't': o.duration_ns = parse_seconds_ns(TOOL, "--seconds", optarg); break;
      case 'r': o.rate = parse_u64(TOOL, "--rate", optarg, 0, 100000000); break;
      case 'B': o.batch = (int)parse_u64(TOOL, "--batch", optarg, 1, MAX_BATCH); break;
      case 'T': o.ttl = (int)parse_u64(TOOL, "--ttl", optarg, 1, 255); break;
      case 'Q': o.tos = (int)parse_u64(TOOL, "--tos", optarg, 0, 255); break;
      case 'R': o.run = (uint32_t)parse_u64(TOOL, "--run", optarg, 0, UINT32_MAX); break;
      case 'c': o.cpu = (int)parse_u64(TOOL, "--cpu", optarg, 0, CPU_SETSIZE - 1); break;
      case 'S': o.sndbuf = (int)parse_u64(TOOL, "--sndbuf", optarg, 4096, INT_MAX / 2); break;
      default: usage();
    }
  }
  if (optind != argc) die_status(2, TOOL, "unexpected argument \"%s\"", argv[optind]);
  if (o.flows == 0) die_status(2, TOOL, "--dest is required");
  if (!o.have_bind) die_status(2, TOOL, "--bind is required");
  if (o.size < 0) die_status(2, TOOL, "--size is required");
  if (o.count == 0 && o.duration_ns == 0) die_status(2, TOOL, "--count or --seconds is required (sending must be bounded)");
  return o;
}

static int open_socket(const struct options *o) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die_status(1, TOOL, "socket: %s", strerror(errno));
  struct sockaddr_in local;
  memset(&local, 0, sizeof local);
  local.sin_family = AF_INET;
  local.sin_addr = o->bind_addr;
  if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) die_status(1, TOOL, "bind %s: %s", inet_ntoa(o->bind_addr), strerror(errno));
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &o->bind_addr, sizeof o->bind_addr) != 0) die_status(1, TOOL, "IP_MULTICAST_IF: %s", strerror(errno));
  unsigned char mttl = (unsigned char)o->ttl;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &mttl, sizeof mttl) != 0) die_status(1, TOOL, "IP_MULTICAST_TTL: %s", strerror(errno));
  if (setsockopt(fd, IPPROTO_IP, IP_TTL, &o->ttl, sizeof o->ttl) != 0) die_status(1, TOOL, "IP_TTL: %s", strerror(errno));
  if (setsockopt(fd, IPPROTO_IP, IP_TOS, &o->tos, sizeof o->tos) != 0) die_status(1, TOOL, "IP_TOS: %s", strerror(errno));
  unsigned char loop = 0;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0) die_status(1, TOOL, "IP_MULTICAST_LOOP: %s", strerror(errno));
  if (o->sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &o->sndbuf, sizeof o->sndbuf) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o->sndbuf, sizeof o->sndbuf) != 0)
    die_status(1, TOOL, "SO_SNDBUF %d: %s", o->sndbuf, strerror(errno));
  return fd;
}

/* Preallocated messages: slot i always points at its own buffer; only its header and name change. */
struct batch {
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  int flow_of[MAX_BATCH];
  unsigned char *buffers;
};

static void prepare_batch(struct batch *b, const struct options *o) {
  b->buffers = malloc((size_t)o->batch * (size_t)o->size);
  if (b->buffers == NULL) die_status(1, TOOL, "out of memory for %d buffers of %d bytes", o->batch, o->size);
  for (int i = 0; i < o->batch; i++) {
    unsigned char *buf = b->buffers + (size_t)i * (size_t)o->size;
    /* A recognisable filler after the header (the sink does not check it). */
    for (int j = BENCH_HEADER_SIZE; j < o->size; j++) buf[j] = (unsigned char)(j * 7 + 1);
    b->iov[i].iov_base = buf;
    b->iov[i].iov_len = (size_t)o->size;
    memset(&b->msgs[i], 0, sizeof b->msgs[i]);
    b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
    b->msgs[i].msg_hdr.msg_iovlen = 1;
    b->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
  }
}

/* Fills slots 0..n-1 round-robin over the flows, taking the next sequence number of each. */
static void fill_batch(struct batch *b, struct options *o, int n, int *next_flow, uint64_t *flow_seq, uint64_t now) {
  for (int i = 0; i < n; i++) {
    int flow = *next_flow;
    *next_flow = (flow + 1) % o->flows;
    struct bench_header h = {BENCH_MAGIC, o->run, (uint32_t)flow, 0, flow_seq[flow]++, now};
    memcpy(b->iov[i].iov_base, &h, sizeof h);
    b->flow_of[i] = flow;
    b->msgs[i].msg_hdr.msg_name = &o->dests[flow];
  }
}

/* Gives back the flow slots and sequence numbers of messages sent..n-1, which the kernel did not take. */
static void unfill_batch(const struct batch *b, int sent, int n, int *next_flow, uint64_t *flow_seq) {
  for (int i = n - 1; i >= sent; i--) {
    flow_seq[b->flow_of[i]]--;
    *next_flow = b->flow_of[i];
  }
}

static void sleep_until(uint64_t when_ns) {
  struct timespec ts = {(time_t)(when_ns / 1000000000ull), (long)(when_ns % 1000000000ull)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !interrupted) {
  }
}

static struct result send_traffic(int fd, struct options *o) {
  static struct batch b;
  static uint64_t flow_seq[MAX_FLOWS];
  prepare_batch(&b, o);
  struct result r;
  memset(&r, 0, sizeof r);
  int next_flow = 0;
  const uint64_t start = mono_ns();
  const uint64_t deadline = o->duration_ns ? start + o->duration_ns : UINT64_MAX;
  const uint64_t limit = o->count ? o->count : UINT64_MAX;
  /* Paced: wait until a quantum of tokens is there, so a wake-up sends about QUANTUM_NS worth of packets
   * (one packet at low rates, a batch at high ones) rather than paying a syscall per packet. */
  double quantum = (double)o->rate * QUANTUM_NS / 1e9;
  if (quantum < 1.0) quantum = 1.0;
  if (quantum > o->batch) quantum = o->batch;
  /* The bucket holds up to 1 ms of packets (at least a batch): a sender held up for less than that
   * catches up in a short burst instead of losing its slots. */
  double depth = (double)o->rate * BUCKET_NS / 1e9;
  if (depth < o->batch) depth = o->batch;
  double tokens = quantum; /* the first quantum leaves at once */
  uint64_t last = start;
  r.stopped_by = "count";
  while (r.sent < limit) {
    if (interrupted) { r.stopped_by = "signal"; break; }
    uint64_t now = mono_ns();
    if (now >= deadline) { r.stopped_by = "seconds"; break; }
    uint64_t want = limit - r.sent;
    if (want > (uint64_t)o->batch) want = (uint64_t)o->batch;
    if (o->rate) {
      tokens += (double)(now - last) * (double)o->rate / 1e9;
      last = now;
      if (tokens > depth) tokens = depth;
      if (tokens < quantum) {
        uint64_t wait = (uint64_t)((quantum - tokens) * 1e9 / (double)o->rate) + 1;
        sleep_until(now + wait < deadline ? now + wait : deadline);
        continue;
      }
      if ((double)want > tokens) want = (uint64_t)tokens;
    }
    int n = (int)want;
    fill_batch(&b, o, n, &next_flow, flow_seq, mono_ns());
    int sent = sendmmsg(fd, b.msgs, (unsigned)n, 0);
    if (sent < 0) {
      if (errno != EINTR) {
        if (r.errors++ == 0) r.first_errno = errno;
        if (o->rate) tokens -= 1.0; /* a failing send still uses its slot: no busy loop at the paced rate */
      }
      sent = 0;
    }
    unfill_batch(&b, sent, n, &next_flow, flow_seq);
    r.sent += (uint64_t)sent;
    if (o->rate) tokens -= sent;
  }
  r.elapsed_ns = mono_ns() - start;
  memcpy(r.flow_sent, flow_seq, sizeof flow_seq);
  return r;
}

static void print_result(const struct options *o, const struct result *r) {
  double seconds = (double)r->elapsed_ns / 1e9;
  printf("{\"tool\":\"gen\",\"run\":%u,\"size\":%d,\"requested_pps\":%llu,\"sent\":%llu,\"errors\":%llu,\"first_error\":",
         o->run, o->size, (unsigned long long)o->rate, (unsigned long long)r->sent, (unsigned long long)r->errors);
  if (r->errors) printf("\"%s\"", strerror(r->first_errno)); else printf("null");
  printf(",\"elapsed_ns\":%llu,\"cpu_ns\":%llu,\"run_delay_ns\":%llu,\"achieved_pps\":%.1f,\"stopped_by\":\"%s\",\"flows\":[",
         (unsigned long long)r->elapsed_ns, (unsigned long long)process_cpu_ns(), (unsigned long long)run_delay_ns(),
         seconds > 0 ? (double)r->sent / seconds : 0.0, r->stopped_by);
  for (int f = 0; f < o->flows; f++) {
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &o->dests[f].sin_addr, addr, sizeof addr);
    printf("%s{\"dest\":\"%s:%u\",\"sent\":%llu}", f ? "," : "", addr, ntohs(o->dests[f].sin_port), (unsigned long long)r->flow_sent[f]);
  }
  printf("]}\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  struct options o = parse_options(argc, argv);
  if (o.cpu >= 0) pin_to_cpu(TOOL, o.cpu);
  /* Default timer slack (50 us) would bunch paced packets; ask for precise wake-ups. */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  int fd = open_socket(&o);
  struct result r = send_traffic(fd, &o);
  close(fd);
  print_result(&o, &r);
  return 0;
}
