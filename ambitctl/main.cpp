// ambitctl: the operator's command line for ambit.
#include <CLI/CLI.hpp>

#include <iostream>

#include "ambitctl/analyze.h"
#include "controller/config/diagnostics.h"

namespace {

std::string codes_help() {
  std::string out = "Diagnostic codes:\n";
  for (const auto& c : ambit::controller::config::all_diagnostic_codes()) {
    out += "  " + std::string(c.code) + "  " +
           std::string(ambit::controller::config::to_string(c.severity)) + "  " +
           std::string(c.title) + "\n";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ambitctl: inspect and validate an ambit mesh's configuration"};
  app.require_subcommand(1);

  auto* analyze = app.add_subcommand(
      "analyze",
      "Check configuration files (Kubernetes, Istio, Linkerd, SMI YAML) like istioctl analyze");
  std::vector<std::string> paths;
  std::string output = "text";
  analyze->add_option("paths", paths, "YAML files or directories (*.yaml, *.yml)")->required();
  analyze->add_option("-o,--output", output, "Output format")
      ->check(CLI::IsMember({"text", "json"}));
  analyze->footer(codes_help());

  CLI11_PARSE(app, argc, argv);

  if (analyze->parsed()) {
    auto format = output == "json" ? ambit::ambitctl::OutputFormat::kJson
                                   : ambit::ambitctl::OutputFormat::kText;
    return ambit::ambitctl::run_analyze(paths, format, std::cout, std::cerr);
  }
  return 0;
}
