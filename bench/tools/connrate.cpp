// ambit-bench-connrate: new-connection rate through a TCP endpoint.
//
// N client threads, each in a loop for T seconds: connect, send a request of --size bytes, read a reply of
// the same size (the server echoes), close. Prints one JSON object: completed connections, failures,
// connections per second and the p50/p99 time of one whole connect-request-reply-close cycle.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "common.h"

namespace {

struct Tally {
  uint64_t ok = 0;
  uint64_t failed = 0;
  int last_errno = 0;
  std::vector<float> cycle_us;  // one sample per completed connection
};

void client(const sockaddr_in& to, size_t size, int timeout_ms, double deadline, Tally& t) {
  std::vector<char> req(size, 'r');
  std::vector<char> reply(size);
  t.cycle_us.reserve(1 << 16);
  while (bench::now_seconds() < deadline) {
    double start = bench::now_seconds();
    int fd = bench::connect_to(to, timeout_ms);
    bool ok = fd >= 0 && bench::write_all(fd, req.data(), size) && bench::read_exact(fd, reply.data(), size);
    if (!ok) t.last_errno = errno;
    if (fd >= 0) close(fd);
    if (ok) {
      ++t.ok;
      t.cycle_us.push_back(static_cast<float>((bench::now_seconds() - start) * 1e6));
    } else {
      ++t.failed;
      usleep(1000);  // do not spin on a refusing endpoint
    }
  }
}

double percentile(std::vector<float>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv,
                   "usage: ambit-bench-connrate --connect IP:PORT [--clients N] [--duration SECONDS] [--size BYTES]\n"
                   "                            [--timeout-ms MS]\n"
                   "  N concurrent clients: connect, send SIZE bytes, read SIZE bytes back, close; for SECONDS.\n"
                   "  Prints {\"connections\":..,\"failures\":..,\"seconds\":..,\"rate\":..,\"p50_us\":..,\"p99_us\":..}");
  sockaddr_in to = args.endpoint("connect");
  long clients = args.num("clients", 1);
  long duration = args.num("duration", 5);
  long size = args.num("size", 1024);
  long timeout_ms = args.num("timeout-ms", 5000);
  args.done();
  if (clients < 1 || clients > 1024) args.fail("--clients must be 1..1024");
  if (duration < 1 || duration > 3600) args.fail("--duration must be 1..3600");
  if (size < 1 || size > (1 << 20)) args.fail("--size must be 1..1048576");
  if (timeout_ms < 1) args.fail("--timeout-ms must be positive");

  signal(SIGPIPE, SIG_IGN);
  std::vector<Tally> tallies(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  double start = bench::now_seconds();
  double deadline = start + static_cast<double>(duration);
  for (auto& t : tallies) {
    threads.emplace_back(client, std::cref(to), static_cast<size_t>(size), static_cast<int>(timeout_ms), deadline,
                         std::ref(t));
  }
  for (auto& th : threads) th.join();
  double elapsed = bench::now_seconds() - start;

  Tally all;
  for (auto& t : tallies) {
    all.ok += t.ok;
    all.failed += t.failed;
    if (t.last_errno) all.last_errno = t.last_errno;
    all.cycle_us.insert(all.cycle_us.end(), t.cycle_us.begin(), t.cycle_us.end());
  }
  double p50 = percentile(all.cycle_us, 50);
  double p99 = percentile(all.cycle_us, 99);
  std::printf(
      "{\"connections\":%llu,\"failures\":%llu,\"seconds\":%.3f,\"rate\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
      "\"last_error\":\"%s\"}\n",
      static_cast<unsigned long long>(all.ok), static_cast<unsigned long long>(all.failed), elapsed,
      static_cast<double>(all.ok) / elapsed, p50, p99, all.last_errno ? std::strerror(all.last_errno) : "");
  return 0;
}
