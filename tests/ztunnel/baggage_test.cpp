#include "ztunnel/baggage.h"

#include <gtest/gtest.h>

namespace ambit::ztunnel {
namespace {

TEST(Baggage, DescribesTheSourceAsIstioDoes) {
  Workload w;
  w.name = "reviews-v2-5f7d";
  w.ns = "bookinfo";
  w.labels = {{"app", "reviews"}, {"version", "v2"}};
  EXPECT_EQ(format_baggage(baggage_of(w)),
            "k8s.namespace.name=bookinfo,k8s.pod.name=reviews-v2-5f7d,service.name=reviews,"
            "service.version=v2");
  w.labels = {{"service.istio.io/canonical-name", "rev"}, {"app", "reviews"}};
  EXPECT_EQ(baggage_of(w).service_name, "rev");
  EXPECT_EQ(baggage_of(w).service_version, "latest");
  w.labels.clear();
  EXPECT_EQ(baggage_of(w).service_name, "reviews-v2-5f7d");
}

TEST(Baggage, ReadsZtunnelsHeader) {
  Baggage b = parse_baggage(
      "k8s.cluster.name=Kubernetes,k8s.namespace.name=default, k8s.deployment.name=sleep,"
      "service.name=sleep;prop=1,service.version=v1,cloud.region=eu");
  EXPECT_EQ(b.cluster, "Kubernetes");
  EXPECT_EQ(b.ns, "default");
  EXPECT_EQ(b.workload_name, "sleep");
  EXPECT_EQ(b.service_name, "sleep");
  EXPECT_EQ(b.service_version, "v1");
}

TEST(Baggage, IgnoresWhatItCannotRead) {
  Baggage b = parse_baggage("garbage,=x,k8s.namespace.name=,k8s..name=y,,service.name");
  EXPECT_EQ(b.ns, "");
  EXPECT_EQ(b.workload_name, "");
  EXPECT_EQ(b.service_name, "");
}

}  // namespace
}  // namespace ambit::ztunnel
