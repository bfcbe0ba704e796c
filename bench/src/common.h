/*
 * Small helpers shared by the benchmark tools (gen, sink, mroute): the packet header every benchmark
 * payload starts with, the monotonic clock, strict argument parsing and CPU pinning.
 *
 * Header-only: each tool is a single translation unit built with `cc -O2 tool.c`.
 */
#ifndef MCR_BENCH_COMMON_H
#define MCR_BENCH_COMMON_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Every benchmark payload starts with this header (host byte order: sender and receiver run on the
 * same machine). `run` tells packets of one probe from late packets of an earlier one.
 */
#define BENCH_MAGIC 0x4252434du /* "MCRB" read as little-endian bytes */

struct bench_header {
  uint32_t magic;
  uint32_t run;
  uint32_t flow;     /* index of the destination in the generator's --dest list */
  uint32_t reserved;
  uint64_t seq;      /* per flow, from 0, consecutive over the packets the kernel accepted */
  uint64_t sent_ns;  /* CLOCK_MONOTONIC just before the send call (shared by every namespace) */
};

#define BENCH_HEADER_SIZE ((int)sizeof(struct bench_header))
#define BENCH_MAX_PAYLOAD 65507

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time this process has used (all threads), in nanoseconds. */
static inline uint64_t process_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Nanoseconds this thread spent runnable but waiting for a CPU (/proc/thread-self/schedstat); 0 if unknown. */
static inline uint64_t run_delay_ns(void) {
  unsigned long long run = 0, delay = 0;
  FILE *f = fopen("/proc/thread-self/schedstat", "r");
  if (f == NULL) return 0;
  if (fscanf(f, "%llu %llu", &run, &delay) != 2) delay = 0;
  fclose(f);
  return delay;
}

/* Prints "<tool>: <message>" to stderr and exits with status 2 (usage) or 1 (runtime failure). */
static inline void die_status(int status, const char *tool, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
static inline void die_status(int status, const char *tool, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", tool);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(status);
}

/* Parses a decimal unsigned integer in [min, max] or exits with a usage error naming the option. */
static inline uint64_t parse_u64(const char *tool, const char *option, const char *text, uint64_t min, uint64_t max) {
  char *end = NULL;
  errno = 0;
  if (text[0] == '-' || text[0] == '\0') die_status(2, tool, "%s: expected a non-negative integer, got \"%s\"", option, text);
  unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0') die_status(2, tool, "%s: expected a non-negative integer, got \"%s\"", option, text);
  if (value < min || value > max) die_status(2, tool, "%s: %llu is outside %llu..%llu", option, value, (unsigned long long)min, (unsigned long long)max);
  return value;
}

/* Parses a positive decimal number of seconds (fractions allowed) into nanoseconds. */
static inline uint64_t parse_seconds_ns(const char *tool, const char *option, const char *text) {
  char *end = NULL;
  errno = 0;
  double value = strtod(text, &end);
  if (errno != 0 || *end != '\0' || !(value > 0) || value > 86400) die_status(2, tool, "%s: expected seconds in (0, 86400], got \"%s\"", option, text);
  return (uint64_t)(value * 1e9);
}

/* Parses a dotted-quad IPv4 address. */
static inline struct in_addr parse_ipv4(const char *tool, const char *option, const char *text) {
  struct in_addr addr;
  if (inet_pton(AF_INET, text, &addr) != 1) die_status(2, tool, "%s: \"%s\" is not an IPv4 address", option, text);
  return addr;
}

/* Parses "A.B.C.D:PORT". */
static inline struct sockaddr_in parse_endpoint(const char *tool, const char *option, const char *text) {
  char host[INET_ADDRSTRLEN];
  const char *colon = strrchr(text, ':');
  if (colon == NULL || (size_t)(colon - text) >= sizeof host) die_status(2, tool, "%s: expected ADDRESS:PORT, got \"%s\"", option, text);
  memcpy(host, text, (size_t)(colon - text));
  host[colon - text] = '\0';
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr = parse_ipv4(tool, option, host);
  sa.sin_port = htons((uint16_t)parse_u64(tool, option, colon + 1, 1, 65535));
  return sa;
}

/* Pins the calling thread to one CPU. */
static inline void pin_to_cpu(const char *tool, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) die_status(1, tool, "sched_setaffinity(cpu %d): %s", cpu, strerror(errno));
}

#endif
