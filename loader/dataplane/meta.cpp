#include "loader/dataplane/meta.h"

#include <bpf/bpf.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <vector>

#include "loader/core/bpffs.h"
#include "loader/core/fd.h"
#include "loader/dataplane/build_info.h"

namespace vpnpt {
namespace {

std::string meta_path(const std::string& pin_dir) { return pin_dir + "/" + VPNPT_MAP_META; }

void copy_text(char (&to)[VPNPT_VERSION_LEN], const std::string& from) {
  std::memset(to, 0, sizeof(to));
  std::strncpy(to, from.c_str(), sizeof(to) - 1);
}

}  // namespace

Result<std::optional<vpnpt_meta>> read_meta(const std::string& pin_dir) {
  const std::string path = meta_path(pin_dir);
  if (!path_exists(path)) return std::optional<vpnpt_meta>{};
  Fd fd(bpf_obj_get(path.c_str()));
  if (!fd.valid()) return make_error("cannot open the build record " + path, errno);
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) || info.type != BPF_MAP_TYPE_ARRAY || info.key_size != 4 ||
      info.value_size < offsetof(vpnpt_meta, version))
    return make_error(path + " is not a vpnpt build record; run `vpnpt detach` and attach again");
  std::vector<unsigned char> buf(info.value_size);
  uint32_t key = 0;
  if (bpf_map_lookup_elem(fd.get(), &key, buf.data())) return make_error("cannot read " + path, errno);
  vpnpt_meta m{};
  std::memcpy(&m, buf.data(), std::min<size_t>(buf.size(), sizeof(m)));  // an older, shorter record: the rest zero
  if (m.magic != VPNPT_META_MAGIC) return make_error(path + " holds no vpnpt build record (bad magic)");
  m.version[VPNPT_VERSION_LEN - 1] = m.upgraded_from[VPNPT_VERSION_LEN - 1] = '\0';
  return std::optional<vpnpt_meta>{m};
}

Status write_meta(const std::string& pin_dir, const std::string& upgraded_from) {
  auto abi = build_abi_hash();
  if (!abi) return abi.error();
  vpnpt_meta m{};
  m.magic = VPNPT_META_MAGIC;
  m.size = sizeof(m);
  m.abi_hash = *abi;
  m.build_hash = build_hash();
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  m.attached_at = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  copy_text(m.version, build_version());
  copy_text(m.upgraded_from, upgraded_from);

  const std::string path = meta_path(pin_dir);
  Fd fd(bpf_obj_get(path.c_str()));
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (fd.valid() && (bpf_obj_get_info_by_fd(fd.get(), &info, &len) || info.value_size != sizeof(m))) {
    // Another build's record of another size: replaced, it describes that build only.
    fd = Fd();
    ::unlink(path.c_str());
  }
  if (!fd.valid()) {
    LIBBPF_OPTS(bpf_map_create_opts, opts);
    fd = Fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, VPNPT_MAP_META, 4, sizeof(m), 1, &opts));
    if (!fd.valid()) return make_error("cannot create the build record", errno);
    if (bpf_obj_pin(fd.get(), path.c_str())) return make_error("cannot pin the build record at " + path, errno);
  }
  uint32_t key = 0;
  if (bpf_map_update_elem(fd.get(), &key, &m, BPF_ANY)) return make_error("cannot write " + path, errno);
  return {};
}

std::string meta_version(const std::optional<vpnpt_meta>& m) {
  if (!m) return "unrecorded";  // a build older than the record
  return m->version[0] ? m->version : "unknown";
}

}  // namespace vpnpt
