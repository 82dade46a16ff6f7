#include "loader/dataplane/pin_check.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <vector>

#include "loader/core/fd.h"
#include "loader/core/netif.h"
#include "loader/core/strings.h"
#include "loader/dataplane/data_path.h"
#include "loader/dataplane/map_layout.h"
#include "loader/dataplane/pinned_maps.h"

namespace vpnpt {

std::string join_names(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return join(names, ", ");
}

std::vector<std::string> pin_names(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (!e.is_directory(ec)) out.push_back(e.path().filename());
  return out;
}

std::string pin_family(const std::string& pin) {
  const auto p = pin.rfind("_v");
  if (p == std::string::npos || p + 2 >= pin.size()) return pin;
  for (size_t i = p + 2; i < pin.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(pin[i]))) return pin;
  return pin.substr(0, p);
}

std::map<uint32_t, vpnpt_iface> recorded_ifaces_of_any_build(const std::string& pin_dir) {
  for (const auto& n : pin_names(pin_dir))
    if (pin_family(n) == pin_family(VPNPT_MAP_IFACES)) {
      Fd fd(bpf_obj_get((pin_dir + "/" + n).c_str()));
      if (fd.valid()) return read_ifaces(fd.get());
    }
  return {};
}

bool programs_running(const std::string& ifaces_pin) {
  Fd ifaces(bpf_obj_get(ifaces_pin.c_str()));
  if (!ifaces.valid()) return false;
  for (const auto& [ifindex, rec] : read_ifaces(ifaces.get()))
    if (path_attached(ifindex, rec)) return true;
  return false;
}

Status check_pins_are_ours(const std::string& pin_dir) {
  const auto present = pin_names(pin_dir);
  std::set<std::string> ours;
  for (const auto& p : kPins) ours.insert(p.name);
  std::vector<std::string> foreign;
  for (const auto& n : present)
    if (!ours.count(n)) foreign.push_back(n);
  if (!foreign.empty()) return make_error(pin_dir + " holds pins this vpnpt does not use (" + join_names(foreign) + ")");

  // A map this build adds is missing while the old programs run: they would never read it.
  std::vector<std::string> missing;
  const std::set<std::string> have(present.begin(), present.end());
  for (const auto& p : kPins)
    if ((p.owner == VPNPT_PIN_OWNER_LOADER || p.owner == VPNPT_PIN_OWNER_HOOKS) && !have.count(p.name))
      missing.push_back(p.name);
  if (!present.empty() && !missing.empty() && programs_running(pin_dir + "/" + VPNPT_MAP_IFACES))
    return make_error("the programs running from " + pin_dir + " lack maps this vpnpt shares (" +
                         join_names(missing) + ")");

  // Same names, other bytes: a layout change that did not bump its name.
  if (present.empty()) return {};
  auto mine = build_layouts();
  if (!mine) return mine.error();
  std::vector<std::string> changed;
  for (const auto& n : present) {
    auto it = mine->find(n);
    if (it == mine->end()) continue;  // the tracer's map: not the hooks'
    auto theirs = pinned_layout(pin_dir + "/" + n, n);
    if (!theirs) return theirs.error();
    if (*theirs != it->second) changed.push_back(n);
  }
  if (!changed.empty())
    return make_error(pin_dir + " holds maps whose layout differs from this vpnpt's (" + join_names(changed) + ")");
  return {};
}

}  // namespace vpnpt
