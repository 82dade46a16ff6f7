// What the shell may offer for an argument's value. make_cli() says which
// arguments exist; the words come from where the program defines them
// (the protocol list, the modes, the log levels), so a new protocol or mode
// reaches the completion without an edit here.
#pragma once

#include <string>
#include <vector>

#include "tools/docgen/cli_model.h"

namespace vpnpt::docgen {

enum class ValueKind { Free, Words, Interface, File };

struct Values {
  ValueKind kind = ValueKind::Free;
  std::vector<std::string> words;  // for Words
  std::string shown;               // for Free: how the docs show it ("A.B.C.D"); empty: CLI11's type name
};

// The values of argument @arg of command @cmd.
Values values_of(const Command& cmd, const Arg& arg);

// Names in the table that match no argument of @root (a renamed option):
// one line each, empty when the table is current.
std::vector<std::string> stale_value_rules(const Command& root);

}  // namespace vpnpt::docgen

namespace vpnpt::docgen {

// How the docs show the value @arg takes: "auto|native|skb|tc", "IFNAME",
// "FILE", else a positional's name or CLI11's type name.
std::string placeholder(const Command& cmd, const Arg& arg);

}  // namespace vpnpt::docgen
