#include "loader/core/result.h"

#include <cstring>

namespace vpnpt {

std::string Error::message() const {
  if (err == 0) return what;
  return what + ": " + std::strerror(err);
}

}  // namespace vpnpt
