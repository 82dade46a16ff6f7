#include "loader/dataplane/meta.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
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

// The record's map, with BTF of struct vpnpt_meta so bpftool shows its members (every vpnpt pin
// carries BTF).
Result<Fd> create_meta_map() {
  std::unique_ptr<btf, void (*)(btf*)> b(btf__new_empty(), btf__free);
  if (!b) return make_error("cannot build the build record's BTF", errno);
  const int u32 = btf__add_int(b.get(), "__u32", 4, 0);
  const int u64 = btf__add_int(b.get(), "__u64", 8, 0);
  const int chr = btf__add_int(b.get(), "char", 1, BTF_INT_SIGNED);
  const int text = btf__add_array(b.get(), u32, chr, VPNPT_VERSION_LEN);
  const int meta = btf__add_struct(b.get(), "vpnpt_meta", sizeof(vpnpt_meta));
  const struct {
    const char* name;
    int type;
    size_t off;
  } fields[] = {{"magic", u32, offsetof(vpnpt_meta, magic)},
                {"size", u32, offsetof(vpnpt_meta, size)},
                {"abi_hash", u64, offsetof(vpnpt_meta, abi_hash)},
                {"build_hash", u64, offsetof(vpnpt_meta, build_hash)},
                {"attached_at", u64, offsetof(vpnpt_meta, attached_at)},
                {"version", text, offsetof(vpnpt_meta, version)},
                {"upgraded_from", text, offsetof(vpnpt_meta, upgraded_from)}};
  for (const auto& f : fields)
    if (meta < 0 || btf__add_field(b.get(), f.name, f.type, static_cast<uint32_t>(f.off * 8), 0))
      return make_error("cannot build the build record's BTF");
  if (btf__load_into_kernel(b.get())) return make_error("cannot load the build record's BTF", errno);
  LIBBPF_OPTS(bpf_map_create_opts, opts, .btf_fd = static_cast<uint32_t>(btf__fd(b.get())),
              .btf_key_type_id = static_cast<uint32_t>(u32), .btf_value_type_id = static_cast<uint32_t>(meta));
  Fd fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, VPNPT_MAP_META, 4, sizeof(vpnpt_meta), 1, &opts));
  if (!fd.valid()) return make_error("cannot create the build record", errno);
  return fd;
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
  if (fd.valid() && (bpf_obj_get_info_by_fd(fd.get(), &info, &len) || info.value_size != sizeof(m) || !info.btf_id)) {
    // Another build's record of another size: replaced, it describes that build only.
    fd = Fd();
    ::unlink(path.c_str());
  }
  if (!fd.valid()) {
    auto created = create_meta_map();
    if (!created) return created.error();
    fd = std::move(*created);
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
