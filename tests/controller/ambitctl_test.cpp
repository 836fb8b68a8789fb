// `ambitctl analyze`: output and exit status.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ambitctl/analyze.h"

namespace ambit::ambitctl {
namespace {

std::string testdata(const char* name) {
  return std::string(AMBIT_SOURCE_DIR) + "/tests/controller/testdata/" + name;
}

TEST(AmbitctlAnalyzeTest, CleanConfigurationPrintsOneLine) {
  std::ostringstream out, err;
  int status = run_analyze({testdata("analyze/clean.yaml")}, OutputFormat::kText, out, err);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out.str(), "\u2714 No issues found in 1 file (4 objects).\n");
}

TEST(AmbitctlAnalyzeTest, ErrorsGiveExitOne) {
  std::ostringstream out, err;
  int status = run_analyze({testdata("analyze/broken.yaml")}, OutputFormat::kText, out, err);
  EXPECT_EQ(status, 1);
  EXPECT_NE(out.str().find("Error [AMB0022] (VirtualService shop/reviews "), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("Error [AMB0023]"), std::string::npos) << out.str();
}

TEST(AmbitctlAnalyzeTest, WarningsOnlyGiveExitZero) {
  std::ostringstream out, err;
  EXPECT_EQ(
      run_analyze({testdata("seed/08-authorization-policy.yaml")}, OutputFormat::kText, out, err),
      0);
  EXPECT_NE(out.str().find("Warning [AMB0027]"), std::string::npos) << out.str();
}

TEST(AmbitctlAnalyzeTest, JsonOutput) {
  std::ostringstream out, err;
  int status = run_analyze({testdata("analyze/broken.yaml")}, OutputFormat::kJson, out, err);
  EXPECT_EQ(status, 1);
  auto json = nlohmann::json::parse(out.str());
  ASSERT_TRUE(json.is_array());
  ASSERT_FALSE(json.empty());
  bool found = false;
  for (const auto& d : json) {
    if (d["code"] == "AMB0022") {
      found = true;
      EXPECT_EQ(d["severity"], "Error");
      EXPECT_EQ(d["object"], "VirtualService shop/reviews");
      EXPECT_EQ(d["field"], "spec.http[0].route[1].destination.subset");
      EXPECT_EQ(d["line"], 34);
    }
  }
  EXPECT_TRUE(found) << out.str();
  std::ostringstream clean;
  run_analyze({testdata("analyze/clean.yaml")}, OutputFormat::kJson, clean, err);
  EXPECT_EQ(nlohmann::json::parse(clean.str()), nlohmann::json::array());
}

// A Latin-1 byte (0xE9, "é") in a name ends up quoted in the message; the JSON must still print.
TEST(AmbitctlAnalyzeTest, JsonOutputOfLatin1NameIsValidUtf8) {
  std::string file = testing::TempDir() + "/caf\xe9.yaml";
  std::ofstream(file) << "apiVersion: v1\nkind: Service\nmetadata:\n  name: caf\xe9\n";
  std::ostringstream out, err;
  EXPECT_EQ(run_analyze({file}, OutputFormat::kJson, out, err), 1);
  auto json = nlohmann::json::parse(out.str(), nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << out.str();
  ASSERT_EQ(json.size(), 1u) << out.str();
  EXPECT_EQ(json[0]["code"], "AMB0002");
  EXPECT_NE(json[0]["message"].get<std::string>().find("'caf\xef\xbf\xbd'"), std::string::npos)
      << out.str();
  EXPECT_NE(json[0]["file"].get<std::string>().find("caf\xef\xbf\xbd.yaml"), std::string::npos);
}

// As kubectl apply -f, not "No issues found in 0 files".
TEST(AmbitctlAnalyzeTest, DirectoryWithoutYamlIsAnError) {
  std::string dir = testing::TempDir() + "/ambitctl-empty-dir";
  std::filesystem::create_directories(dir);
  std::ostringstream out, err;
  EXPECT_EQ(run_analyze({dir}, OutputFormat::kText, out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_NE(err.str().find("no .yaml or .yml files in the directory"), std::string::npos)
      << err.str();
}

TEST(AmbitctlAnalyzeTest, MissingPathIsAnError) {
  std::ostringstream out, err;
  EXPECT_EQ(run_analyze({"/nonexistent.yaml"}, OutputFormat::kText, out, err), 1);
  EXPECT_NE(err.str().find("AMB0007"), std::string::npos) << err.str();
}

}  // namespace
}  // namespace ambit::ambitctl
