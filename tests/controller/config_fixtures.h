// Helpers for the controller configuration tests: YAML text in, snapshot and diagnostics out.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ambit/v1/control.pb.h"
#include "controller/config/analyzer.h"
#include "controller/config/loader.h"

namespace ambit::controller::config::testing {

// A small clean cluster: namespace shop (ambient), pods reviews-v1/v2 and web, Services reviews
// and web, a DestinationRule with subsets v1 and v2. Analyzing it alone finds nothing.
inline constexpr const char* kBaseCluster = R"(apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {ambit.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v1
  namespace: shop
  labels: {app: reviews, version: v1}
spec: {nodeName: node-a, serviceAccountName: reviews}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v2
  namespace: shop
  labels: {app: reviews, version: v2}
spec: {nodeName: node-b, serviceAccountName: reviews}
status: {podIP: 10.1.0.2}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec: {nodeName: node-a, serviceAccountName: web}
status: {podIP: 10.1.0.3}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec:
  clusterIP: 10.96.0.10
  ports: [{port: 9080, name: http}]
  selector: {app: reviews}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.11
  ports: [{port: 80, targetPort: 8080, name: http-web}]
  selector: {app: web}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
)";

// Severities, short, for the analyzer tests' expectations.
inline constexpr Severity kError = Severity::kError;
inline constexpr Severity kWarning = Severity::kWarning;
inline constexpr Severity kInfo = Severity::kInfo;

inline ConfigSnapshot load_texts(const std::vector<std::pair<std::string, std::string>>& files) {
  ConfigSnapshot snapshot;
  for (const auto& [name, text] : files) {
    snapshot.files.push_back(name);
    load_yaml_text(text, name, snapshot);
  }
  sort_diagnostics(snapshot.diagnostics);
  return snapshot;
}

// The base cluster (base.yaml) plus `fixture` (fixture.yaml), fully analyzed.
inline std::vector<Diagnostic> analyze_with_base(const std::string& fixture) {
  auto snapshot = load_texts({{"base.yaml", kBaseCluster}, {"fixture.yaml", fixture}});
  return analyze(snapshot).diagnostics;
}

inline std::string dump(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.format() + "\n";
  return out;
}

// The Workload `uid` of a view (a test failure, and an empty one, when it has none).
inline const ambit::v1::Workload& workload(const std::vector<ambit::v1::Resource>& view,
                                           const std::string& uid) {
  for (const auto& r : view) {
    if (r.has_workload() && r.uid() == uid) return r.workload();
  }
  ADD_FAILURE() << "no workload " << uid;
  static ambit::v1::Workload none;
  return none;
}

}  // namespace ambit::controller::config::testing

// Exactly one diagnostic, with this code, severity, line, object and field.
#define EXPECT_ONLY_DIAGNOSTIC(diagnostics, code_, severity_, line_, object_, field_) \
  do {                                                                                \
    const auto& d_ = (diagnostics);                                                   \
    ASSERT_EQ(d_.size(), 1u) << ::ambit::controller::config::testing::dump(d_);       \
    EXPECT_EQ(d_[0].code, code_) << d_[0].format();                                   \
    EXPECT_EQ(d_[0].severity, severity_) << d_[0].format();                           \
    EXPECT_EQ(d_[0].file, "fixture.yaml") << d_[0].format();                          \
    EXPECT_EQ(d_[0].line, line_) << d_[0].format();                                   \
    EXPECT_EQ(d_[0].object, object_) << d_[0].format();                               \
    EXPECT_EQ(d_[0].field, field_) << d_[0].format();                                 \
  } while (0)
