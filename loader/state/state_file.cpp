#include "loader/state/state_file.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>
#include <set>

#include "loader/core/netif.h"
#include "loader/dataplane/pinned_maps.h"
#include "loader/state/btf_json.h"

namespace vpnpt {
namespace {

using nlohmann::json;

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t table_layout(const SchemaTable& t) {
  return layout_hash(t.types.types.get(), t.types.shape, sized_at_run(t.map_name));
}

std::string wall_now() {
  char buf[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const char* kind_name(const json& j) { return j.type_name(); }

// The header field @key of type @want ("string", "number"), or an error naming it.
Result<const json*> field(const json& doc, const char* key, bool number) {
  auto it = doc.find(key);
  if (it == doc.end()) return make_error(std::string("not a vpnpt state file: no '") + key + "' in its header");
  if (number ? !it->is_number_unsigned() : !it->is_string())
    return make_error(std::string("not a vpnpt state file: '") + key + "' is a " + kind_name(*it) + ", not a " +
                      (number ? "non-negative integer" : "string"));
  return &*it;
}

// A timer of a session saved on another boot, moved to keep its age at @now (docs/state.md).
uint64_t moved(uint64_t stamp, uint64_t saved_at, uint64_t now) {
  if (!stamp) return 0;
  const uint64_t age = saved_at > stamp ? saved_at - stamp : 0;
  return now > age ? now - age : 1;
}

void move_timers(json& value, uint64_t saved_at, uint64_t now) {
  if (!value.is_object()) return;
  for (auto& [k, v] : value.items())
    if (k.size() > 3 && k.compare(k.size() - 3, 3, "_ns") == 0 && v.is_number_unsigned())
      v = moved(v.get<uint64_t>(), saved_at, now);
}

Status parse_table(const std::string& name, const json& tj, const SchemaTable& t, const StateHeader& h,
                   const StateOrigin& now, TableWrite& w) {
  const MapShape& s = t.types.shape;
  const std::string at = "table " + name;
  if (!tj.is_object()) return make_error(at + ": not an object");
  auto entries = tj.find("entries");
  if (entries == tj.end() || !entries->is_array()) return make_error(at + ": no 'entries' array");
  for (const auto& [k, v] : tj.items())
    if (k != "entries" && k != "map" && k != "layout" && k != "slots")
      return make_error(at + ": unknown field '" + k + "'");
  const bool slots = t.def->kind == TableKind::Slots;
  if (slots) {
    auto n = tj.find("slots");
    if (n == tj.end() || !n->is_number_unsigned()) return make_error(at + ": no 'slots' count");
    if (n->get<uint64_t>() != s.max_entries)
      return make_error(at + " has " + std::to_string(n->get<uint64_t>()) + " slots, this vpnpt's map " +
                        std::to_string(s.max_entries) + " (slot positions would not match)");
  }
  const bool other_boot = h.origin.boot_id != now.boot_id;
  std::set<std::vector<uint8_t>> seen;
  w = TableWrite{name, t.fd, t.def->kind, s.value_size, {}};
  for (size_t i = 0; i < entries->size(); ++i) {
    const json& e = (*entries)[i];
    const std::string where = at + " entry " + std::to_string(i);
    if (!e.is_object()) return make_error(where + ": not an object");
    for (const auto& [k, v] : e.items())
      if (k != "value" && k != (slots ? "slot" : "key")) return make_error(where + ": unknown field '" + k + "'");
    RawEntry r{std::vector<uint8_t>(slots ? 4 : s.key_size), std::vector<uint8_t>(s.value_size)};
    if (slots) {
      auto sl = e.find("slot");
      if (sl == e.end() || !sl->is_number_unsigned() || sl->get<uint64_t>() >= s.max_entries)
        return make_error(where + ": no slot below " + std::to_string(s.max_entries));
      const uint32_t slot = static_cast<uint32_t>(sl->get<uint64_t>());
      std::copy_n(reinterpret_cast<const uint8_t*>(&slot), 4, r.key.begin());
    } else {
      auto k = e.find("key");
      if (k == e.end()) return make_error(where + ": no key");
      VPNPT_TRY(btf_decode(t.types.types.get(), s.key_type_id, *k, r.key.data(), r.key.size(), where + " key"));
    }
    auto v = e.find("value");
    if (v == e.end()) return make_error(where + ": no value");
    json value = *v;
    if (other_boot) move_timers(value, h.origin.mono_ns, now.mono_ns);
    VPNPT_TRY(
        btf_decode(t.types.types.get(), s.value_type_id, value, r.value.data(), r.value.size(), where + " value"));
    if (std::all_of(r.value.begin(), r.value.end(), [](uint8_t b) { return b == 0; }))
      return make_error(where + ": an empty value (empty slots are not saved)");
    if (!seen.insert(r.key).second) return make_error(where + ": its " + (slots ? "slot" : "key") + " comes twice");
    w.entries.push_back(std::move(r));
  }
  return {};
}

}  // namespace

Result<StateSchema> build_schema() {
  auto all = build_map_types();
  if (!all) return all.error();
  StateSchema out;
  for (const auto& t : kStateTables) {
    const char* map = kPins[t.pin].name;
    auto it = all->find(map);
    if (it == all->end()) return make_error(std::string("the BPF objects have no map ") + map);
    out.push_back({&t, map, it->second, -1});
  }
  return out;
}

std::string schema_abi(const StateSchema& schema) {
  std::string text;
  for (const auto& t : schema) text += std::string(t.def->name) + "=" + hex64(table_layout(t)) + ";";
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64, as map_layout's hash
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  return hex64(h);
}

Result<std::string> format_state(const StateSchema& schema, const std::vector<std::vector<RawEntry>>& tables,
                                 const StateOrigin& o) {
  json doc = {{"format", kStateFormat},
              {"version", kStateVersion},
              {"abi", schema_abi(schema)},
              {"wan_if", o.wan_if},
              {"public_ip", format_ipv4(o.public_ip)},
              {"boot_id", o.boot_id},
              {"saved_at_ns", o.mono_ns},
              {"saved_at", wall_now()}};
  json& out = doc["tables"] = json::object();
  for (size_t i = 0; i < schema.size(); ++i) {
    const SchemaTable& t = schema[i];
    const MapShape& s = t.types.shape;
    json tj = {{"map", t.map_name}, {"layout", hex64(table_layout(t))}};
    if (t.def->kind == TableKind::Slots) tj["slots"] = s.max_entries;
    json& entries = tj["entries"] = json::array();
    for (const RawEntry& e : tables[i]) {
      auto v = btf_encode(t.types.types.get(), s.value_type_id, e.value.data(), e.value.size());
      if (!v) return make_error(std::string("cannot encode ") + t.def->name + ": " + v.error().what);
      json row;
      if (t.def->kind == TableKind::Slots) {
        uint32_t slot = 0;
        std::copy_n(e.key.begin(), 4, reinterpret_cast<uint8_t*>(&slot));
        row["slot"] = slot;
      } else {
        auto k = btf_encode(t.types.types.get(), s.key_type_id, e.key.data(), e.key.size());
        if (!k) return make_error(std::string("cannot encode a key of ") + t.def->name + ": " + k.error().what);
        row["key"] = std::move(*k);
      }
      row["value"] = std::move(*v);
      entries.push_back(std::move(row));
    }
    out[t.def->name] = std::move(tj);
  }
  return doc.dump(1) + "\n";
}

Result<ParsedState> parse_state(std::string_view text, const StateSchema& schema, const StateOrigin& now) {
  const json doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) return make_error("not a vpnpt state file: not JSON (truncated or corrupted?)");
  if (!doc.is_object()) return make_error("not a vpnpt state file: not a JSON object");
  auto fmt = field(doc, "format", false);
  if (!fmt) return fmt.error();
  auto ver = field(doc, "version", true);
  if (!ver) return ver.error();
  if (**fmt != kStateFormat || (*ver)->get<uint64_t>() != static_cast<uint64_t>(kStateVersion))
    return make_error("state file format " + (*fmt)->dump() + " version " + (*ver)->dump() + "; this vpnpt reads " +
                      kStateFormat + " version " + std::to_string(kStateVersion));
  ParsedState p;
  StateOrigin& o = p.header.origin;
  for (auto [key, dst] :
       {std::pair{"wan_if", &o.wan_if}, std::pair{"boot_id", &o.boot_id}, std::pair{"abi", &p.header.abi}}) {
    auto f = field(doc, key, false);
    if (!f) return f.error();
    *dst = (*f)->get<std::string>();
  }
  auto ip = field(doc, "public_ip", false);
  if (!ip) return ip.error();
  auto addr = parse_ipv4((*ip)->get<std::string>());
  if (!addr) return make_error("not a vpnpt state file: public_ip: " + addr.error().what);
  o.public_ip = *addr;
  auto at = field(doc, "saved_at_ns", true);
  if (!at) return at.error();
  o.mono_ns = (*at)->get<uint64_t>();
  for (const auto& [k, v] : doc.items())
    if (k != "format" && k != "version" && k != "abi" && k != "wan_if" && k != "public_ip" && k != "boot_id" &&
        k != "saved_at_ns" && k != "saved_at" && k != "tables")
      return make_error("state file: unknown header field '" + k + "'");
  auto tables = doc.find("tables");
  if (tables == doc.end() || !tables->is_object()) return make_error("not a vpnpt state file: no 'tables' object");
  for (const auto& [name, tj] : tables->items())
    if (!find_state_table(name))
      return make_error("state file: unknown table '" + name + "' (not one this vpnpt keeps)");
  for (const SchemaTable& t : schema) {
    auto tj = tables->find(t.def->name);
    if (tj == tables->end()) continue;  // an older file without the table: nothing to restore
    TableWrite w;
    VPNPT_TRY(parse_table(t.def->name, *tj, t, p.header, now, w));
    p.writes.push_back(std::move(w));
  }
  return p;
}

}  // namespace vpnpt
