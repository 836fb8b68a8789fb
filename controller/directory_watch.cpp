#include "controller/directory_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ambit::controller {

Result<std::unique_ptr<DirectoryWatch>> DirectoryWatch::start(const std::filesystem::path& dir,
                                                              std::function<void()> on_change) {
  std::unique_ptr<DirectoryWatch> self(new DirectoryWatch());
  self->on_change_ = std::move(on_change);
  self->inotify_.reset(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!self->inotify_.valid() ||
      inotify_add_watch(self->inotify_.get(), dir.c_str(),
                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE) < 0) {
    return Error::format("watching '{}': {}", dir.string(), std::strerror(errno));
  }
  self->stop_fd_.reset(eventfd(0, EFD_CLOEXEC));
  self->thread_ = std::thread([raw = self.get()] { raw->run(); });
  return self;
}

DirectoryWatch::~DirectoryWatch() {
  uint64_t one = 1;
  (void)!::write(stop_fd_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void DirectoryWatch::run() {
  pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  char buf[16 * 1024];
  while (true) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    ::poll(nullptr, 0, 10);
    while (::read(inotify_.get(), buf, sizeof(buf)) > 0) {
    }
    on_change_();
  }
}

}  // namespace ambit::controller
