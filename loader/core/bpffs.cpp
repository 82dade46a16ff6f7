#include "loader/core/bpffs.h"

#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <filesystem>

#include "abi/vpnpt_abi.h"
#include <system_error>

namespace vpnpt {
namespace {
constexpr long kBpfFsMagic = 0xcafe4a11;
}

bool bpffs_mounted() {
  struct statfs st {};
  return statfs(kBpffsMount, &st) == 0 && static_cast<long>(st.f_type) == kBpfFsMagic;
}

Status ensure_bpffs() {
  if (bpffs_mounted()) return {};
  ::mkdir(kBpffsMount, 0700);
  if (::mount("bpf", kBpffsMount, "bpf", 0, "mode=0700") != 0)
    return make_error(std::string("bpffs is not mounted and mounting it at ") + kBpffsMount +
                          " failed; mount it with `mount -t bpf bpf /sys/fs/bpf`",
                      errno);
  spdlog::info("mounted bpffs at {}", kBpffsMount);
  return {};
}

Status make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return make_error("cannot create " + path, ec.value());
  return {};
}

Status remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return make_error("cannot remove " + path, ec.value());
  return {};
}

Status remove_pin_dir(const std::string& pin_dir) {
  VPNPT_TRY(remove_tree(pin_dir));
  ::rmdir(VPNPT_PIN_ROOT);  // fails, harmlessly, while other attachments remain
  return {};
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace vpnpt
