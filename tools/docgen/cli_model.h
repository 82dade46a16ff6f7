// The vpnpt command line as the docs describe it, read from make_cli()'s
// CLI::App (loader/cli/cli.cpp): the same definition `vpnpt --help` prints,
// so the man page and the completion cannot drift from the parser.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "loader/core/strings.h"

namespace vpnpt::docgen {

struct Arg {
  std::string name;                    // "--lan", "-v, --verbose" for display; a positional's name ("wan-if")
  std::string key;                     // the long name ("--lan") or the positional's name: what completion matches
  std::vector<std::string> spellings;  // every way to type an option ("-v", "--verbose"); none for positionals
  bool positional = false;
  bool takes_value = false;  // false: a flag
  bool required = false;
  bool repeatable = false;
  std::string type;  // CLI11's type name ("TEXT", "UINT"); empty for flags
  std::string default_value;
  std::string description;
};

struct Command {
  std::vector<std::string> path;  // {} for vpnpt itself, {"state", "save"}
  std::string description;
  std::vector<Arg> options;      // in definition order, --help included
  std::vector<Arg> positionals;  // in the order they are given
  std::vector<Command> subcommands;

  // "state save"; "" for vpnpt itself.
  std::string joined_path() const;
};

// The tree of commands under @app (its own options and positionals first).
Command read_cli(const CLI::App& app);

// Every command of the tree, depth first, @root first.
std::vector<const Command*> flatten(const Command& root);

}  // namespace vpnpt::docgen
