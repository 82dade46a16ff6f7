// Tells from nf_tables notifications, at once rather than at the next
// periodic check, that a table may have changed: it, or a chain or rule in
// it, was added or deleted (`flush ruleset` announces every table it
// deletes). Set elements and other tables are not looked at, so a busy
// ruleset (sets updated by a blocklist daemon) costs nothing.
#pragma once

#include <memory>
#include <string>

#include "loader/core/result.h"

namespace vpnpt {

class NftNetlink;

class NftTableWatch {
 public:
  // Watches table @table of family ip.
  static Result<NftTableWatch> open(std::string table);
  NftTableWatch(NftTableWatch&&) noexcept;
  ~NftTableWatch();
  int fd() const;  // readable when notifications are pending
  // Reads every pending notification: true if one concerns the table, or
  // some were lost (the socket overflowed).
  bool touched();

 private:
  NftTableWatch(std::unique_ptr<NftNetlink> nl, std::string table);
  std::unique_ptr<NftNetlink> nl_;
  std::string table_;
};

}  // namespace vpnpt
