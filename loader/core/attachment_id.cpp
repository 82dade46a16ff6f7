#include "loader/core/attachment_id.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <filesystem>

#include "abi/vpnpt_abi.h"
#include "loader/core/fd.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace vpnpt {
namespace {

constexpr const char* kRunDir = "/run/vpnpt";

bool same_file(const struct stat& a, const struct stat& b) { return a.st_ino == b.st_ino && a.st_dev == b.st_dev; }

// True if our netns is one that `ip netns add` created (bind-mounted under /run/netns).
bool in_named_netns(const struct stat& self) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    struct stat st {};
    if (::stat(e.path().c_str(), &st) == 0 && same_file(st, self)) return true;
  }
  return false;
}

// The "initial" namespace is PID 1's. In sandboxes where PID 1 is not
// visible, the namespace we run in counts as initial unless it is a named
// (ip netns) one, which is how labs and tests create their routers.
bool in_initial_netns() {
  struct stat self {
  }, init{};
  if (::stat("/proc/self/ns/net", &self) != 0) return true;
  if (::stat("/proc/1/ns/net", &init) == 0) return same_file(self, init);
  return !in_named_netns(self);
}

Result<uint64_t> netns_cookie() {
  Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return make_error("cannot open a socket to read the netns cookie", errno);
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(s.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
    return make_error("cannot read the netns cookie (kernel older than 5.14?)", errno);
  return cookie;
}

}  // namespace

Result<std::string> netns_suffix() {
  if (in_initial_netns()) return std::string();
  auto cookie = netns_cookie();
  if (!cookie) return cookie.error();
  return "@ns" + std::to_string(*cookie);
}

Result<AttachmentId> attachment_for(const std::string& wan_if) {
  if (wan_if.empty() || wan_if.find('/') != std::string::npos || wan_if.find('@') != std::string::npos)
    return make_error("invalid interface name '" + wan_if + "'");
  auto suffix = netns_suffix();
  if (!suffix) return suffix.error();
  AttachmentId id;
  id.wan_if = wan_if;
  id.dir_name = wan_if + *suffix;
  id.pin_dir = std::string(VPNPT_PIN_ROOT) + "/" + id.dir_name;
  id.lock_path = std::string(kRunDir) + "/" + id.dir_name + ".lock";
  return id;
}

std::vector<AttachmentId> attachments_in_this_netns() {
  std::vector<AttachmentId> out;
  auto suffix = netns_suffix();
  if (!suffix) return out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(VPNPT_PIN_ROOT, ec)) {
    std::string name = e.path().filename().string();
    auto at = name.find('@');
    std::string wan = at == std::string::npos ? name : name.substr(0, at);
    std::string sfx = at == std::string::npos ? "" : name.substr(at);
    if (sfx != *suffix) continue;
    auto id = attachment_for(wan);
    if (id) out.push_back(*id);
  }
  return out;
}

}  // namespace vpnpt
