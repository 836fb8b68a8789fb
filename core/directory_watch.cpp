#include "core/directory_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ambit {

Result<DirectoryWatch> DirectoryWatch::open(const std::filesystem::path& dir, Events events) {
  UniqueFd fd(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE;
  if (events == Events::kAnyChange) mask |= IN_MOVED_FROM | IN_DELETE;
  if (!fd.valid() || inotify_add_watch(fd.get(), dir.c_str(), mask) < 0) {
    return Error::format("watching '{}': {}", dir.string(), std::strerror(errno));
  }
  return DirectoryWatch(std::move(fd));
}

std::vector<std::string> DirectoryWatch::drain() {
  std::vector<std::string> names;
  alignas(inotify_event) char buf[16 * 1024];
  ssize_t n;
  while ((n = ::read(fd_.get(), buf, sizeof(buf))) > 0) {
    for (char* p = buf; p < buf + n;) {
      auto* e = reinterpret_cast<inotify_event*>(p);
      if (e->len > 0) names.emplace_back(e->name);
      p += sizeof(inotify_event) + e->len;
    }
  }
  return names;
}

Result<std::unique_ptr<DirectoryWatchThread>> DirectoryWatchThread::start(
    const std::filesystem::path& dir, std::function<void()> on_change) {
  auto watch = DirectoryWatch::open(dir, DirectoryWatch::Events::kAnyChange);
  if (!watch) return watch.error();
  std::unique_ptr<DirectoryWatchThread> self(
      new DirectoryWatchThread(std::move(*watch), std::move(on_change)));
  self->thread_ = std::thread([raw = self.get()] { raw->run(); });
  return self;
}

DirectoryWatchThread::DirectoryWatchThread(DirectoryWatch watch, std::function<void()> on_change)
    : watch_(std::move(watch)),
      on_change_(std::move(on_change)),
      stop_fd_(eventfd(0, EFD_CLOEXEC)) {}

DirectoryWatchThread::~DirectoryWatchThread() {
  uint64_t one = 1;
  (void)!::write(stop_fd_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void DirectoryWatchThread::run() {
  pollfd fds[2] = {{watch_.fd(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    ::poll(nullptr, 0, 10);
    watch_.drain();
    on_change_();
  }
}

}  // namespace ambit
