#include "tools/docgen/cli_model.h"

namespace vpnpt::docgen {

namespace {

Arg read_arg(const CLI::Option& o) {
  Arg a;
  a.positional = !o.nonpositional();
  a.takes_value = o.get_items_expected_max() > 0;
  a.required = o.get_required();
  // CLI11 marks an unbounded count with a huge maximum (a vector option).
  a.repeatable = o.get_items_expected_max() > 1;
  a.type = a.takes_value ? o.get_type_name() : "";
  a.default_value = o.get_default_str();
  a.description = o.get_description();
  if (a.positional) {
    a.name = a.key = o.get_name();
    return a;
  }
  for (const auto& s : o.get_snames()) a.spellings.push_back("-" + s);
  for (const auto& l : o.get_lnames()) a.spellings.push_back("--" + l);
  a.key = a.spellings.back();
  a.name = join(a.spellings, ", ");
  return a;
}

Command read_command(const CLI::App& app, std::vector<std::string> path) {
  Command c;
  c.path = std::move(path);
  c.description = app.get_description();
  for (const CLI::Option* o : app.get_options())
    (o->nonpositional() ? c.options : c.positionals).push_back(read_arg(*o));
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    auto p = c.path;
    p.push_back(sub->get_name());
    c.subcommands.push_back(read_command(*sub, std::move(p)));
  }
  return c;
}

void add_all(const Command& c, std::vector<const Command*>& out) {
  out.push_back(&c);
  for (const auto& s : c.subcommands) add_all(s, out);
}

}  // namespace

std::string Command::joined_path() const { return join(path, " "); }

Command read_cli(const CLI::App& app) { return read_command(app, {}); }

std::vector<const Command*> flatten(const Command& root) {
  std::vector<const Command*> out;
  add_all(root, out);
  return out;
}

}  // namespace vpnpt::docgen
