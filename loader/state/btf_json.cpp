#include "loader/state/btf_json.h"

#include <bpf/btf.h>

#include <cstring>
#include <limits>

namespace vpnpt {
namespace {

constexpr int kMaxDepth = 16;  // bounds a malformed (cyclic) BTF

// A type with typedefs and qualifiers seen through; @be is set when a typedef on the way is __be*.
const btf_type* resolve(const btf* b, uint32_t& id, bool& be) {
  for (int i = 0; i < kMaxDepth; ++i) {
    const btf_type* t = id ? btf__type_by_id(b, id) : nullptr;
    if (!t) return nullptr;
    if (!btf_is_typedef(t) && !btf_is_mod(t)) return t;
    if (btf_is_typedef(t)) {
      const char* n = btf__name_by_offset(b, t->name_off);
      if (n && std::strncmp(n, "__be", 4) == 0) be = true;
    }
    id = t->type;
  }
  return nullptr;
}

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

uint64_t load_uint(const uint8_t* p, size_t n, bool be) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{p[be ? n - 1 - i : i]} << (8 * i);  // little-endian host
  return v;
}

void store_uint(uint8_t* p, size_t n, bool be, uint64_t v) {
  for (size_t i = 0; i < n; ++i) p[be ? n - 1 - i : i] = static_cast<uint8_t>(v >> (8 * i));
}

// A scalar's width and signedness; false if @t is no integer or enum of 1, 2, 4 or 8 bytes.
bool scalar(const btf_type* t, size_t& n, bool& is_signed) {
  if (btf_is_int(t)) {
    n = t->size;
    is_signed = btf_int_encoding(t) & BTF_INT_SIGNED;
    if (btf_int_offset(t) || btf_int_bits(t) != n * 8) return false;
  } else if (btf_is_any_enum(t)) {
    n = t->size;
    is_signed = false;
  } else {
    return false;
  }
  return n == 1 || n == 2 || n == 4 || n == 8;
}

struct Walk {
  const btf* b;

  Result<nlohmann::json> encode(uint32_t id, const uint8_t* p, size_t size, int depth) const {
    bool be = false;
    const btf_type* t = depth < kMaxDepth ? resolve(b, id, be) : nullptr;
    if (!t) return make_error("unreadable BTF type");
    size_t n = 0;
    bool sign = false;
    if (scalar(t, n, sign)) {
      if (n > size) return make_error("BTF type larger than the entry");
      const uint64_t v = load_uint(p, n, be);
      if (!sign) return nlohmann::json(v);
      const int64_t s = n == 8 ? static_cast<int64_t>(v) : static_cast<int64_t>(v << (64 - 8 * n)) >> (64 - 8 * n);
      return nlohmann::json(s);
    }
    if (btf_is_array(t)) {
      const struct btf_array* a = btf_array(t);
      const long es = btf__resolve_size(b, a->type);
      if (es <= 0 || static_cast<size_t>(es) * a->nelems > size) return make_error("BTF array larger than the entry");
      size_t used = a->nelems;
      while (used && all_zero(p + (used - 1) * es, es)) --used;
      nlohmann::json out = nlohmann::json::array();
      for (size_t i = 0; i < used; ++i) {
        auto e = encode(a->type, p + i * es, es, depth + 1);
        if (!e) return e;
        out.push_back(std::move(*e));
      }
      return out;
    }
    if (btf_is_struct(t)) {
      if (t->size > size) return make_error("BTF struct larger than the entry");
      nlohmann::json out = nlohmann::json::object();
      const btf_member* m = btf_members(t);
      for (uint16_t i = 0; i < btf_vlen(t); ++i) {
        const char* name = btf__name_by_offset(b, m[i].name_off);
        const uint32_t bit = btf_member_bit_offset(t, i);
        const long ms = btf__resolve_size(b, m[i].type);
        if (!name || !*name || bit % 8 || btf_member_bitfield_size(t, i) || ms < 0 || bit / 8 + ms > t->size)
          return make_error("a member of a BTF struct is unnamed, a bitfield or out of place");
        if (all_zero(p + bit / 8, ms)) continue;
        auto e = encode(m[i].type, p + bit / 8, ms, depth + 1);
        if (!e) return make_error(std::string(name) + ": " + e.error().what);
        out[name] = std::move(*e);
      }
      return out;
    }
    return make_error("BTF kind " + std::to_string(btf_kind(t)) + " is not encoded");
  }

  Status decode(uint32_t id, const nlohmann::json& j, uint8_t* out, size_t size, const std::string& where,
                int depth) const {
    bool be = false;
    const btf_type* t = depth < kMaxDepth ? resolve(b, id, be) : nullptr;
    if (!t) return make_error(where + ": unreadable BTF type");
    size_t n = 0;
    bool sign = false;
    if (scalar(t, n, sign)) {
      if (n > size) return make_error(where + ": BTF type larger than the entry");
      const int bits = static_cast<int>(8 * n);
      uint64_t v = 0;
      if (j.is_number_unsigned()) {
        v = j.get<uint64_t>();
        const uint64_t max =
            sign ? (uint64_t{1} << (bits - 1)) - 1 : (bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1);
        if (v > max)
          return make_error(where + ": " + std::to_string(v) + " does not fit " + std::to_string(bits) + " bits");
      } else if (j.is_number_integer()) {
        const int64_t s = j.get<int64_t>();
        const int64_t min = bits == 64 ? std::numeric_limits<int64_t>::min() : -(int64_t{1} << (bits - 1));
        if (!sign || s < min) return make_error(where + ": " + std::to_string(s) + " is out of range");
        v = static_cast<uint64_t>(s);
      } else {
        return make_error(where + ": expected an integer");
      }
      store_uint(out, n, be, v);
      return {};
    }
    if (btf_is_array(t)) {
      const struct btf_array* a = btf_array(t);
      const long es = btf__resolve_size(b, a->type);
      if (es <= 0 || static_cast<size_t>(es) * a->nelems > size)
        return make_error(where + ": BTF array larger than the entry");
      if (!j.is_array()) return make_error(where + ": expected an array");
      if (j.size() > a->nelems)
        return make_error(where + ": " + std::to_string(j.size()) + " elements, this vpnpt has " +
                          std::to_string(a->nelems));
      for (size_t i = 0; i < j.size(); ++i)
        VPNPT_TRY(decode(a->type, j[i], out + i * es, es, where + "[" + std::to_string(i) + "]", depth + 1));
      return {};
    }
    if (btf_is_struct(t)) {
      if (t->size > size) return make_error(where + ": BTF struct larger than the entry");
      if (!j.is_object()) return make_error(where + ": expected an object");
      const btf_member* m = btf_members(t);
      for (const auto& [key, val] : j.items()) {
        uint16_t i = 0;
        for (; i < btf_vlen(t); ++i) {
          const char* name = btf__name_by_offset(b, m[i].name_off);
          if (name && key == name) break;
        }
        const std::string at = where + "." + key;
        if (i == btf_vlen(t)) return make_error(at + ": no such member in this vpnpt's layout");
        const uint32_t bit = btf_member_bit_offset(t, i);
        const long ms = btf__resolve_size(b, m[i].type);
        if (bit % 8 || btf_member_bitfield_size(t, i) || ms < 0 || bit / 8 + ms > t->size)
          return make_error(at + ": a bitfield or out of place in the BTF");
        VPNPT_TRY(decode(m[i].type, val, out + bit / 8, ms, at, depth + 1));
      }
      return {};
    }
    return make_error(where + ": BTF kind " + std::to_string(btf_kind(t)) + " is not decoded");
  }
};

}  // namespace

Result<nlohmann::json> btf_encode(const btf* types, uint32_t type_id, const uint8_t* p, size_t size) {
  if (!types) return make_error("the map has no BTF");
  return Walk{types}.encode(type_id, p, size, 0);
}

Status btf_decode(const btf* types, uint32_t type_id, const nlohmann::json& j, uint8_t* out, size_t size,
                  const std::string& where) {
  if (!types) return make_error(where + ": the map has no BTF");
  std::memset(out, 0, size);
  return Walk{types}.decode(type_id, j, out, size, where, 0);
}

}  // namespace vpnpt
