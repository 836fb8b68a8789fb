// The loader's YAML reading below the kinds: one document at a time (lines, markers, syntax
// errors), merge keys, plain scalars kept as written, the depth limit and empty directories.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config_fixtures.h"

namespace ambit::controller::config {
namespace {

using testing::load_texts;

const Pod* find_pod(const ConfigModel& m, const std::string& name) {
  for (const auto& p : m.pods) {
    if (p.meta.name == name) return &p;
  }
  return nullptr;
}

// A kubectl List keeps the anchors of one item in reach of the next: one YAML document.
constexpr const char* kMergedPods = R"(apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: &meta
    name: reviews-v1
    namespace: shop
    labels: &labels {app: reviews, version: v1}
  spec: &spec {nodeName: node-a, serviceAccountName: reviews}
- apiVersion: v1
  kind: Pod
  metadata:
    <<: *meta
    name: reviews-v2
    labels:
      version: v2
      <<: *labels
  spec:
    <<: *spec
    nodeName: node-b
)";

TEST(YamlMergeKeyTest, MergedFieldsTakeEffectAndWrittenKeysWin) {
  auto snapshot = load_texts({{"pods.yaml", kMergedPods}});
  EXPECT_TRUE(snapshot.diagnostics.empty()) << testing::dump(snapshot.diagnostics);
  const Pod* v2 = find_pod(snapshot.model, "reviews-v2");
  ASSERT_NE(v2, nullptr) << "the written name must win over the merged one";
  EXPECT_EQ(v2->meta.ns, "shop");
  EXPECT_EQ(v2->meta.labels, (StringMap{{"app", "reviews"}, {"version", "v2"}}));
  EXPECT_EQ(v2->node_name, "node-b");
  EXPECT_EQ(v2->service_account, "reviews");
  ASSERT_NE(find_pod(snapshot.model, "reviews-v1"), nullptr);
}

TEST(YamlMergeKeyTest, ListOfMappingsEarlierWins) {
  auto snapshot = load_texts({{"pod.yaml", R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels:
    <<: [&front {app: web, tier: front}, &zone {app: other, zone: a}]
    extra: x
)"}});
  EXPECT_TRUE(snapshot.diagnostics.empty()) << testing::dump(snapshot.diagnostics);
  ASSERT_EQ(snapshot.model.pods.size(), 1u);
  EXPECT_EQ(snapshot.model.pods[0].meta.labels,
            (StringMap{{"app", "web"}, {"tier", "front"}, {"zone", "a"}, {"extra", "x"}}));
}

TEST(YamlMergeKeyTest, MergeOfANonMappingIsAnErrorNamingTheField) {
  auto snapshot = load_texts({{"pod.yaml", R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  annotations: {owner: &owner team-a}
  labels:
    <<: *owner
)"}});
  ASSERT_EQ(snapshot.diagnostics.size(), 1u) << testing::dump(snapshot.diagnostics);
  EXPECT_EQ(snapshot.diagnostics[0].code, "AMB0002");
  EXPECT_EQ(snapshot.diagnostics[0].field, "metadata.labels.<<");
  EXPECT_EQ(snapshot.diagnostics[0].line, 8);
  EXPECT_NE(snapshot.diagnostics[0].message.find("a single value"), std::string::npos)
      << snapshot.diagnostics[0].message;
  EXPECT_TRUE(snapshot.model.pods.empty());

  auto in_list = load_texts({{"pod.yaml", R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: &labels {app: web}
spec:
  <<: [*labels, [nodeName]]
)"}});
  ASSERT_EQ(in_list.diagnostics.size(), 1u) << testing::dump(in_list.diagnostics);
  EXPECT_EQ(in_list.diagnostics[0].field, "spec.<<[1]");
}

// Each level merges ten aliases of the one below: 10^8 expansions unless they are bounded.
TEST(YamlMergeKeyTest, ExponentialMergeIsRefused) {
  // A List's own metadata is not read: a place for anchors.
  std::string yaml = "apiVersion: v1\nkind: List\nmetadata:\n  defs:\n  - &l0 {a: b}\n";
  for (int level = 1; level <= 8; ++level) {
    std::string ref = "*l" + std::to_string(level - 1);
    yaml += "  - &l" + std::to_string(level) + " {<<: [";
    for (int i = 0; i < 10; ++i) yaml += (i ? ", " : "") + ref;
    yaml += "]}\n";
  }
  yaml += "items:\n- {apiVersion: v1, kind: Pod, metadata: {name: web, labels: {<<: *l8}}}\n";
  auto snapshot = load_texts({{"pod.yaml", yaml}});
  ASSERT_EQ(snapshot.diagnostics.size(), 1u) << testing::dump(snapshot.diagnostics);
  EXPECT_EQ(snapshot.diagnostics[0].code, "AMB0002");
  EXPECT_NE(snapshot.diagnostics[0].message.find("more than 10000 entries"), std::string::npos)
      << snapshot.diagnostics[0].message;
}

TEST(YamlMergeKeyTest, QuotedKeyIsAnOrdinaryKey) {
  auto snapshot = load_texts({{"pod.yaml", R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {"<<": x}
)"}});
  EXPECT_TRUE(snapshot.diagnostics.empty()) << testing::dump(snapshot.diagnostics);
  ASSERT_EQ(snapshot.model.pods.size(), 1u);
  EXPECT_EQ(snapshot.model.pods[0].meta.labels, (StringMap{{"<<", "x"}}));
}

// Go's YAML reader (and so kubectl and Istio) takes these as strings, exactly as written.
TEST(YamlScalarTest, AddressesStayAsWritten) {
  auto snapshot = load_texts({{"se.yaml", R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: legacy}
spec:
  hosts: [legacy.example.com]
  addresses: [001:db8::1, 2001:db8::/32, "2001:db8::", 0:0:0:0:0:0:0:1]
  ports: [{number: 80, name: http}]
  resolution: STATIC
  endpoints:
  - address: 001:db8::a
  - address: 190:20:30::1
)"}});
  EXPECT_TRUE(snapshot.diagnostics.empty()) << testing::dump(snapshot.diagnostics);
  ASSERT_EQ(snapshot.model.service_entries.size(), 1u);
  const auto& se = snapshot.model.service_entries[0];
  EXPECT_EQ(se.addresses, (std::vector<std::string>{"001:db8::1", "2001:db8::/32",
                                                    "2001:db8::", "0:0:0:0:0:0:0:1"}));
  ASSERT_EQ(se.endpoints.size(), 2u);
  EXPECT_EQ(se.endpoints[0].address, "001:db8::a");
  EXPECT_EQ(se.endpoints[1].address, "190:20:30::1");
}

// A plain value cannot end in ':' in YAML: `- 2001:db8::` is the key "2001:db8:" with no value.
TEST(YamlScalarTest, PlainValueEndingInColonSaysToQuoteIt) {
  auto snapshot = load_texts({{"se.yaml", R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: legacy}
spec:
  hosts: [legacy.example.com]
  addresses:
  - 2001:db8::
  ports: [{number: 80, name: http}]
)"}});
  ASSERT_EQ(snapshot.diagnostics.size(), 1u) << testing::dump(snapshot.diagnostics);
  EXPECT_EQ(snapshot.diagnostics[0].field, "spec.addresses[0]");
  EXPECT_NE(snapshot.diagnostics[0].message.find("quote it (\"2001:db8::\")"), std::string::npos)
      << snapshot.diagnostics[0].message;
}

TEST(YamlDocumentTest, LinesCountFromTheFileAcrossDocuments) {
  auto snapshot = load_texts({{"multi.yaml", R"(# leading comment
---
apiVersion: v1
kind: Namespace
metadata: {name: a}
...
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
--- # a comment after the marker
apiVersion: v1
kind: Service
metadata: {name: c}
spec:
  ports: {port: 80}
)"}});
  ASSERT_EQ(snapshot.model.namespaces.size(), 2u);
  EXPECT_EQ(snapshot.model.namespaces[0].meta.line, 3);
  EXPECT_EQ(snapshot.model.namespaces[1].meta.line, 8);
  ASSERT_EQ(snapshot.diagnostics.size(), 1u) << testing::dump(snapshot.diagnostics);
  EXPECT_EQ(snapshot.diagnostics[0].field, "spec.ports");
  EXPECT_EQ(snapshot.diagnostics[0].line, 16);
}

TEST(YamlDocumentTest, MarkerInsideABlockScalarEndsTheDocument) {
  auto snapshot = load_texts({{"cm.yaml", R"(apiVersion: v1
kind: Namespace
metadata:
  name: a
  annotations:
    note: |
      text
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
)"}});
  EXPECT_TRUE(snapshot.diagnostics.empty()) << testing::dump(snapshot.diagnostics);
  ASSERT_EQ(snapshot.model.namespaces.size(), 2u);
  EXPECT_EQ(snapshot.model.namespaces[0].meta.annotations.at("note"), "text\n");
}

TEST(YamlDocumentTest, SyntaxErrorStopsTheFileAtThatDocument) {
  auto snapshot = load_texts({{"bad.yaml", R"(apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: [Namespace
---
apiVersion: v1
kind: Namespace
metadata: {name: c}
)"}});
  ASSERT_EQ(snapshot.diagnostics.size(), 1u) << testing::dump(snapshot.diagnostics);
  EXPECT_EQ(snapshot.diagnostics[0].code, "AMB0001");
  EXPECT_EQ(snapshot.diagnostics[0].line, 7);
  ASSERT_EQ(snapshot.model.namespaces.size(), 1u);
  EXPECT_EQ(snapshot.model.namespaces[0].meta.name, "a");
}

// yaml-cpp 0.7's LoadAll never returns on a stray ',' at the start of a document.
TEST(YamlDocumentTest, StrayCommaDoesNotHang) {
  auto snapshot = load_texts({{"comma.yaml", ",apiVersion: v1\nkind: Namespace\n"}});
  EXPECT_TRUE(snapshot.model.namespaces.empty());
}

TEST(YamlDocumentTest, NestingDepthRefusalSaysSo) {
  auto snapshot = load_texts({{"deep.yaml", "a: " + std::string(3000, '[')}});
  ASSERT_EQ(snapshot.diagnostics.size(), 1u) << testing::dump(snapshot.diagnostics);
  EXPECT_EQ(snapshot.diagnostics[0].code, "AMB0001");
  EXPECT_NE(snapshot.diagnostics[0].message.find("nested too deeply"), std::string::npos)
      << snapshot.diagnostics[0].message;
}

TEST(YamlDocumentTest, DirectoryWithoutYamlIsAnError) {
  auto dir = std::filesystem::temp_directory_path() / "ambit-empty-config-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "README.md") << "no configuration here\n";
  auto snapshot = load_config({dir.string()});
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.error().message, dir.string() + ": no .yaml or .yml files in the directory");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ambit::controller::config
