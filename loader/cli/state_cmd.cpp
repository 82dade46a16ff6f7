#include "loader/cli/state_cmd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "loader/core/daemon_lock.h"
#include "loader/core/fd.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/state/state.h"

namespace vpnpt {

Result<std::string> read_state_file(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error("cannot read the state file " + path, errno);
  text << f.rdbuf();
  return text.str();
}

Result<size_t> save_state_file(const AttachmentId& id, const std::string& path) {
  auto maps = PinnedMaps::open(id.pin_dir);
  if (!maps) return maps.error();
  auto saved = save_state(*maps, id.wan_if);
  if (!saved) return saved.error();
  const std::string* text = &saved->text;
  const size_t entries = saved->entries;
  if (path == "-") {
    std::cout << *text << std::flush;
    return entries;
  }
  const std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return make_error("cannot create " + tmp, errno);
  for (size_t off = 0; off < text->size();) {
    const ssize_t n = ::write(fd.get(), text->data() + off, text->size() - off);
    if (n < 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      return make_error("cannot write " + tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) || std::rename(tmp.c_str(), path.c_str())) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return make_error("cannot write the state file " + path, err);
  }
  return entries;
}

Result<std::string> restore_state_file(const AttachmentId& id, const std::string& path) {
  auto text = read_state_file(path);
  if (!text) return text.error();
  // The daemon keeps what it learns from the tables in memory: restore under its lock, so none runs.
  auto lock = DaemonLock::acquire(id.lock_path);
  if (!lock)
    return make_error("the vpnpt daemon of " + id.wan_if +
                      " is running; stop it first, or restore at attach with `vpnpt attach " + id.wan_if +
                      " --restore FILE`; nothing changed");
  auto maps = PinnedMaps::open(id.pin_dir);
  if (!maps) return maps.error();
  return restore_state(*maps, id.wan_if, *text);
}

}  // namespace vpnpt
