// ambit-bench-hold: opens K connections through an endpoint and holds them idle.
//
// Each connection does one request/reply round trip (the server echoes) so it is known to be established
// end to end, through every proxy hop. When all are open the tool prints one line starting with READY, then
// holds them until SIGTERM/SIGINT/SIGUSR1 or --duration seconds. Before closing it counts the connections the
// other side closed meanwhile, and prints a DONE line.
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common.h"

namespace {

constexpr size_t kProbeSize = 64;

struct Opener {
  std::vector<int> fds;
  uint64_t failed = 0;
  int last_errno = 0;
};

void open_some(const sockaddr_in& to, long count, int timeout_ms, double deadline, Opener& o) {
  char req[kProbeSize];
  char reply[kProbeSize];
  std::memset(req, 'h', sizeof req);
  for (long i = 0; i < count && bench::now_seconds() < deadline; ++i) {
    int fd = bench::connect_to(to, timeout_ms);
    if (fd >= 0 && bench::write_all(fd, req, sizeof req) && bench::read_exact(fd, reply, sizeof reply)) {
      o.fds.push_back(fd);
      continue;
    }
    o.last_errno = errno;
    if (fd >= 0) close(fd);
    ++o.failed;
  }
}

// A held connection that polls readable has been closed (or reset) by the other side.
uint64_t count_closed(const std::vector<int>& fds) {
  std::vector<pollfd> pfds;
  pfds.reserve(fds.size());
  for (int fd : fds) pfds.push_back({fd, POLLIN | POLLRDHUP, 0});
  if (poll(pfds.data(), pfds.size(), 0) <= 0) return 0;
  uint64_t closed = 0;
  for (const auto& p : pfds) {
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) {
      ++closed;
    } else if (p.revents & POLLIN) {
      char c;
      if (recv(p.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) ++closed;
    }
  }
  return closed;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv,
                   "usage: ambit-bench-hold --connect IP:PORT [--count K] [--duration SECONDS] [--parallel P]\n"
                   "                        [--timeout-ms MS]\n"
                   "  Opens K connections (one 64-byte echo round trip each, P at a time), prints\n"
                   "  'READY connections=N failures=F', holds them until SIGTERM/SIGINT/SIGUSR1 or SECONDS,\n"
                   "  then prints 'DONE closed_by_peer=C' and exits.");
  sockaddr_in to = args.endpoint("connect");
  long count = args.num("count", 1000);
  long duration = args.num("duration", 120);
  long parallel = args.num("parallel", 4);
  long timeout_ms = args.num("timeout-ms", 5000);
  args.done();
  if (count < 1 || count > 100000) args.fail("--count must be 1..100000");
  if (duration < 1 || duration > 86400) args.fail("--duration must be 1..86400");
  if (parallel < 1 || parallel > 256) args.fail("--parallel must be 1..256");

  // Block the stop signals in every thread; the main thread collects them with sigtimedwait.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  double start = bench::now_seconds();
  double deadline = start + static_cast<double>(duration);
  std::vector<Opener> openers(static_cast<size_t>(parallel));
  std::vector<std::thread> threads;
  for (long i = 0; i < parallel; ++i) {
    long share = count / parallel + (i < count % parallel ? 1 : 0);
    threads.emplace_back(open_some, std::cref(to), share, static_cast<int>(timeout_ms), deadline,
                         std::ref(openers[static_cast<size_t>(i)]));
  }
  for (auto& t : threads) t.join();

  std::vector<int> fds;
  uint64_t failed = 0;
  int last_errno = 0;
  for (auto& o : openers) {
    fds.insert(fds.end(), o.fds.begin(), o.fds.end());
    failed += o.failed;
    if (o.last_errno) last_errno = o.last_errno;
  }
  std::printf("READY connections=%zu failures=%llu seconds=%.3f last_error=\"%s\"\n", fds.size(),
              static_cast<unsigned long long>(failed), bench::now_seconds() - start,
              last_errno ? std::strerror(last_errno) : "");
  std::fflush(stdout);

  for (;;) {
    double left = deadline - bench::now_seconds();
    if (left <= 0) break;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(left);
    ts.tv_nsec = static_cast<long>((left - static_cast<double>(ts.tv_sec)) * 1e9);
    int sig = sigtimedwait(&stop, nullptr, &ts);
    if (sig > 0) break;
    if (sig < 0 && errno != EINTR) break;  // EAGAIN: the time is up
  }

  uint64_t closed = count_closed(fds);
  for (int fd : fds) close(fd);
  std::printf("DONE closed_by_peer=%llu\n", static_cast<unsigned long long>(closed));
  std::fflush(stdout);
  return 0;
}
