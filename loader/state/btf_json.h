// A map entry's bytes as JSON and back, member by member from the map's
// BTF: an object per struct (members by name), an array per array, a number
// per integer or enum (__be16/__be32/__be64 as the number they carry, in
// host order). Members that are zero are left out, and so are an array's
// trailing zero elements; a missing member decodes as zero. Decoding writes
// by member name into the layout of the BTF it is given, so JSON made from
// an older layout that lacks a member still decodes; a member the layout
// does not have is refused (docs/state.md).
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "loader/core/result.h"

struct btf;

namespace vpnpt {

// The @size bytes at @p, of BTF type @type_id, as JSON (an empty object for an all-zero struct).
Result<nlohmann::json> btf_encode(const btf* types, uint32_t type_id, const uint8_t* p, size_t size);

// Writes @j into @out (@size bytes, zeroed first) as BTF type @type_id. Errors name @where and the member.
Status btf_decode(const btf* types, uint32_t type_id, const nlohmann::json& j, uint8_t* out, size_t size,
                  const std::string& where);

}  // namespace vpnpt
