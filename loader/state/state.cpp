#include "loader/state/state.h"

#include <fstream>
#include <sstream>

#include "loader/core/clock.h"
#include "loader/core/netif.h"
#include "loader/state/table_io.h"

namespace vpnpt {

Result<StateOrigin> state_origin_now(const std::string& wan_if, uint32_t public_ip) {
  std::ifstream f("/proc/sys/kernel/random/boot_id");
  std::string boot;
  if (!std::getline(f, boot) || boot.empty()) return make_error("cannot read /proc/sys/kernel/random/boot_id");
  return StateOrigin{wan_if, public_ip, boot, monotonic_ns()};
}

Result<StateSchema> maps_schema(const PinnedMaps& maps) {
  StateSchema out;
  for (const auto& t : kStateTables) {
    const char* name = kPins[t.pin].name;
    auto types = map_types(maps.map_fd(t.pin), name);
    if (!types) return types.error();
    out.push_back({&t, name, std::move(*types), maps.map_fd(t.pin)});
  }
  return out;
}

Result<SavedState> save_state(const PinnedMaps& maps, const std::string& wan_if) {
  auto cfg = maps.config();
  if (!cfg) return cfg.error();
  auto schema = maps_schema(maps);
  if (!schema) return schema.error();
  std::vector<std::vector<RawEntry>> tables;
  size_t entries = 0;
  for (const SchemaTable& t : *schema) {
    auto e = read_entries(t.fd, t.types.shape, t.def->kind);
    if (!e) return make_error("cannot read " + t.map_name + ": " + e.error().what, e.error().err);
    entries += e->size();
    tables.push_back(std::move(*e));
  }
  // The time of the save is taken after the reads: no stamp read is younger than it.
  auto origin = state_origin_now(wan_if, cfg->public_ip);
  if (!origin) return origin.error();
  auto text = format_state(*schema, tables, *origin);
  if (!text) return text.error();
  return SavedState{std::move(*text), entries};
}

Result<std::string> restore_state(const PinnedMaps& maps, const std::string& wan_if, std::string_view text) {
  auto cfg = maps.config();
  if (!cfg) return cfg.error();
  auto schema = maps_schema(maps);
  if (!schema) return schema.error();
  auto now = state_origin_now(wan_if, cfg->public_ip);
  if (!now) return now.error();
  auto refuse = [](const Error& e) { return make_error(e.what + "; nothing changed", e.err); };
  auto p = parse_state(text, *schema, *now);
  if (!p) return refuse(p.error());
  const StateOrigin& saved = p->header.origin;
  if (saved.wan_if != wan_if)
    return make_error("the state file is for WAN interface " + saved.wan_if + ", not " + wan_if + "; nothing changed");
  if (saved.public_ip != cfg->public_ip)
    return make_error("the state file is for public IP " + format_ipv4(saved.public_ip) + ", this attachment has " +
                      format_ipv4(cfg->public_ip) + "; nothing changed");
  std::string present;
  for (const SchemaTable& t : *schema) {
    auto e = read_entries(t.fd, t.types.shape, t.def->kind);
    if (!e) return refuse(make_error("cannot read " + t.map_name + ": " + e.error().what, e.error().err));
    if (!e->empty())
      present += (present.empty() ? "" : ", ") + std::string(t.def->name) + " holds " + std::to_string(e->size());
  }
  if (!present.empty())
    return make_error("sessions already present (" + present +
                      "); restore needs empty tables (detach first); nothing changed");
  VPNPT_TRY(write_tables(p->writes));
  std::string done;
  for (const auto& w : p->writes)
    if (!w.entries.empty()) done += (done.empty() ? "" : ", ") + std::to_string(w.entries.size()) + " " + w.name;
  return done.empty() ? std::string("no sessions") : done;
}

}  // namespace vpnpt
