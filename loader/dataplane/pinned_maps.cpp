#include "loader/dataplane/pinned_maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <vector>

namespace vpnpt {
namespace {

Result<Fd> open_pin(const std::string& dir, const char* name) {
  std::string path = dir + "/" + name;
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return make_error("cannot open pinned map " + path + " (is vpnpt attached?)", errno);
  return Fd(fd);
}

Result<uint32_t> count_entries(int fd, uint32_t key_size) {
  std::vector<uint8_t> key(key_size), next(key_size);
  uint32_t n = 0;
  void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    ++n;
    key.swap(next);
    prev = key.data();
  }
  if (errno != ENOENT) return make_error("cannot iterate map", errno);
  return n;
}

}  // namespace

Result<void> sum_percpu_counters(int map_fd, vpnpt_counter* out, uint32_t slots) {
  // Per-CPU values are laid out for every *possible* CPU, not just online ones.
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return make_error("cannot count possible CPUs", -ncpu);
  std::vector<vpnpt_counter> percpu(static_cast<size_t>(ncpu));
  for (uint32_t i = 0; i < slots; ++i) {
    if (bpf_map_lookup_elem(map_fd, &i, percpu.data()) != 0)
      return make_error("cannot read counter slot " + std::to_string(i), errno);
    vpnpt_counter sum{};
    for (const auto& c : percpu) {
      sum.packets += c.packets;
      sum.bytes += c.bytes;
    }
    out[i] = sum;
  }
  return {};
}

const PinInfo* pin_info(const std::string& name) {
  for (const auto& p : kPins)
    if (name == p.name) return &p;
  return nullptr;
}

Result<PinnedMaps> PinnedMaps::open(const std::string& pin_dir) {
  PinnedMaps m;
  for (const auto& p : kPins) {
    if (p.owner != VPNPT_PIN_OWNER_LOADER) continue;
    auto fd = open_pin(pin_dir, p.name);
    if (!fd) return fd.error();
    m.fds_[p.id] = std::move(*fd);
  }
  return m;
}

Result<CounterTable> PinnedMaps::counters() const {
  CounterTable t{};
  auto r = sum_percpu_counters(fd(VPNPT_PIN_COUNTERS), t.data(), VPNPT_COUNTER_SLOTS);
  if (!r) return r.error();
  return t;
}

Result<CounterTable> PinnedMaps::xlat() const {
  CounterTable t{};
  auto r = sum_percpu_counters(fd(VPNPT_PIN_XLAT), t.data(), VPNPT_COUNTER_SLOTS);
  if (!r) return r.error();
  return t;
}

Result<ReasonTable> PinnedMaps::reasons() const {
  ReasonTable t{};
  auto r = sum_percpu_counters(fd(VPNPT_PIN_REASONS), t.data(), VPNPT_REASON_SLOTS);
  if (!r) return r.error();
  return t;
}

Result<vpnpt_config> PinnedMaps::config() const {
  uint32_t key = 0;
  vpnpt_config cfg{};
  if (bpf_map_lookup_elem(fd(VPNPT_PIN_CONFIG), &key, &cfg) != 0) return make_error("cannot read config map", errno);
  return cfg;
}

Status PinnedMaps::set_config(const vpnpt_config& cfg) const {
  uint32_t key = 0;
  if (bpf_map_update_elem(fd(VPNPT_PIN_CONFIG), &key, &cfg, BPF_ANY) != 0) return make_error("cannot write config map", errno);
  return {};
}

std::map<uint32_t, vpnpt_iface> read_ifaces(int ifaces_fd) {
  std::map<uint32_t, vpnpt_iface> out;
  uint32_t key = 0, next = 0;
  uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(ifaces_fd, prev, &next) == 0) {
    vpnpt_iface v{};
    if (bpf_map_lookup_elem(ifaces_fd, &next, &v) == 0) out[next] = v;
    key = next;
    prev = &key;
  }
  return out;
}

Result<std::map<uint32_t, vpnpt_iface>> PinnedMaps::ifaces() const { return read_ifaces(fd(VPNPT_PIN_IFACES)); }

Status PinnedMaps::set_iface(uint32_t ifindex, const vpnpt_iface& v) const {
  if (bpf_map_update_elem(fd(VPNPT_PIN_IFACES), &ifindex, &v, BPF_ANY) != 0)
    return make_error("cannot write interface map", errno);
  return {};
}

Result<std::vector<MapFill>> PinnedMaps::fill_levels(const std::vector<MapFill>& protocol_rows) const {
  std::vector<MapFill> out;
  out.push_back({VPNPT_MAP_COUNTERS, VPNPT_COUNTER_SLOTS, VPNPT_COUNTER_SLOTS, true});
  out.push_back({VPNPT_MAP_REASONS, VPNPT_REASON_SLOTS, VPNPT_REASON_SLOTS, true});
  out.push_back({VPNPT_MAP_CONFIG, 1, 1, true});
  out.insert(out.end(), protocol_rows.begin(), protocol_rows.end());
  struct Hash {
    const char* name;
    int fd;
    uint32_t key_size, capacity;
  } hashes[] = {
      {VPNPT_MAP_IFACES, fd(VPNPT_PIN_IFACES), sizeof(uint32_t), VPNPT_MAX_IFACES},
      {VPNPT_MAP_PPTP_STREAMS, fd(VPNPT_PIN_PPTP_STREAMS), sizeof(vpnpt_pptp_stream_key), VPNPT_PPTP_MAX_STREAMS},
      {VPNPT_MAP_PT_FLOWS, fd(VPNPT_PIN_PT_FLOWS), sizeof(vpnpt_pt_flow_key), VPNPT_PT_MAX_FLOWS},
      {VPNPT_MAP_LOCAL_PORTS, fd(VPNPT_PIN_LOCAL_PORTS), sizeof(vpnpt_local_port_key), VPNPT_MAX_LOCAL_PORTS},
      {VPNPT_MAP_HOST_QUOTA, fd(VPNPT_PIN_HOST_QUOTA), sizeof(uint32_t), VPNPT_HOST_QUOTA_SLOTS},
      {VPNPT_MAP_LAN_L2, fd(VPNPT_PIN_LAN_L2), sizeof(uint32_t), VPNPT_LAN_L2_SLOTS},
  };
  for (const auto& h : hashes) {
    auto n = count_entries(h.fd, h.key_size);
    if (!n) return n.error();
    out.push_back({h.name, *n, h.capacity});
  }
  return out;
}

}  // namespace vpnpt
