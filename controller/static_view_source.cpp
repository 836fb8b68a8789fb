#include "controller/static_view_source.h"

#include <algorithm>

#include "controller/config/views.h"

namespace ambit::controller {
namespace {

bool selects(const google::protobuf::Map<std::string, std::string>& selector,
             const v1::Workload& w) {
  if (selector.empty()) return false;
  for (const auto& [k, v] : selector) {
    auto it = w.labels().find(k);
    if (it == w.labels().end() || it->second != v) return false;
  }
  return true;
}

void sort_view(View& view) {
  std::sort(view.begin(), view.end(),
            [](const ResourcePtr& a, const ResourcePtr& b) { return key_less(*a, *b); });
}

}  // namespace

std::shared_ptr<const StaticViewSource> StaticViewSource::create(
    std::vector<v1::Resource> resources, std::string trust_domain, ResourceInterner& interner,
    std::vector<std::string> errors) {
  std::vector<ResourcePtr> interned;
  interned.reserve(resources.size());
  for (auto& r : resources) interned.push_back(interner.intern(std::move(r)));
  interner.end_version();
  return create(std::move(interned), std::move(trust_domain), std::move(errors));
}

std::shared_ptr<const StaticViewSource> StaticViewSource::create(std::vector<ResourcePtr> resources,
                                                                 std::string trust_domain,
                                                                 std::vector<std::string> errors) {
  auto source = std::shared_ptr<StaticViewSource>(new StaticViewSource());
  source->trust_domain_ = std::move(trust_domain);
  source->errors_ = std::move(errors);
  auto base = std::make_shared<View>();
  base->reserve(resources.size());
  for (auto& r : resources) {
    const v1::Resource& res = r->resource();
    // L7, and the policies with targetRefs (enforced only by waypoints): never for agents.
    if (res.has_virtual_service() || res.has_destination_rule() ||
        (res.has_authorization_policy() && res.authorization_policy().target_refs_size() > 0)) {
      source->waypoint_only_.push_back(std::move(r));
      continue;
    }
    if (r->resource().has_workload()) {
      const v1::Workload& w = r->resource().workload();
      auto gw = w.labels().find("gateway.networking.k8s.io/gateway-name");
      source->workloads_[r->uid()] = {w.node(), w.namespace_(), w.service_account(),
                                      gw == w.labels().end() ? "" : gw->second};
      if (!w.netns().empty() || !w.cgroup().empty()) {
        v1::Resource stripped = r->resource();
        stripped.mutable_workload()->clear_netns();
        stripped.mutable_workload()->clear_cgroup();
        source->node_local_[w.node()].push_back(r);
        base->push_back(ViewResource::make(std::move(stripped)));
        continue;
      }
    }
    base->push_back(std::move(r));
  }
  sort_view(*base);
  base->erase(std::unique(base->begin(), base->end(),
                          [](const ResourcePtr& a, const ResourcePtr& b) {
                            return !key_less(*a, *b) && !key_less(*b, *a);
                          }),
              base->end());
  source->base_ = std::move(base);
  sort_view(source->waypoint_only_);
  return source;
}

ViewPtr StaticViewSource::view_for(const v1::Subscribe& who) const {
  std::string key = fmt::format("{}:{}", static_cast<int>(who.role()), who.node());
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }
  ViewPtr view = who.role() == v1::Subscribe::WAYPOINT ? waypoint_view(who.node())
                                                         : agent_view(who.node());
  std::lock_guard lock(mu_);
  return cache_.emplace(key, std::move(view)).first->second;
}

ViewPtr StaticViewSource::agent_view(const std::string& node) const {
  auto local = node_local_.find(node);
  if (local == node_local_.end()) return base_;
  auto view = std::make_shared<View>(*base_);
  for (const ResourcePtr& r : local->second) {
    auto it = std::lower_bound(view->begin(), view->end(), r,
                               [](const ResourcePtr& a, const ResourcePtr& b) { return key_less(*a, *b); });
    if (it != view->end() && !key_less(*r, **it)) *it = r;
  }
  return view;
}

ViewPtr StaticViewSource::waypoint_view(const std::string& waypoint) const {
  auto view = std::make_shared<View>();
  std::vector<const v1::Service*> served;
  std::vector<std::string> served_hosts;  // FQDNs, the first of a Service's hosts
  std::vector<std::string> served_uids;
  for (const ResourcePtr& r : *base_) {
    if (r->resource().has_service() && r->resource().service().waypoint() == waypoint) {
      const v1::Service& s = r->resource().service();
      served.push_back(&s);
      served_uids.push_back(s.namespace_() + "/" + s.name());
      served_hosts.push_back(s.hosts().empty()
                                 ? fmt::format("{}.{}.svc.cluster.local", s.name(), s.namespace_())
                                 : s.hosts(0));
    }
  }
  auto keep = [&](const v1::Resource& res) {
    if (res.has_namespace_() || res.has_trust_bundle()) return true;
    if (res.has_authorization_policy()) {
      return config::policy_for_waypoint(res.authorization_policy(), waypoint, served_uids);
    }
    if (res.has_service()) return res.service().waypoint() == waypoint;
    if (res.has_workload()) {
      return std::any_of(served.begin(), served.end(), [&](const v1::Service* s) {
        return s->namespace_() == res.workload().namespace_() &&
               selects(s->selector(), res.workload());
      });
    }
    if (res.has_virtual_service() || res.has_destination_rule()) {
      std::string_view ns = std::string_view(waypoint).substr(0, waypoint.find('/'));
      return !served_hosts.empty() && config::l7_for_waypoint(res, served_hosts, ns);
    }
    return false;
  };
  for (const View* from : {base_.get(), &waypoint_only_}) {
    for (const ResourcePtr& r : *from) {
      if (keep(r->resource())) view->push_back(r);
    }
  }
  sort_view(*view);
  return view;
}

bool StaticViewSource::workload_on_node(std::string_view workload_uid, std::string_view node) const {
  auto it = workloads_.find(std::string(workload_uid));
  if (it == workloads_.end()) return false;
  if (it->second.node == node) return true;
  // A waypoint client ("<ns>/<name>") may have the identity of its own pods.
  auto slash = node.find('/');
  return slash != std::string_view::npos && !it->second.gateway_name.empty() &&
         it->second.ns == node.substr(0, slash) && it->second.gateway_name == node.substr(slash + 1);
}

std::optional<Identity> StaticViewSource::identity_of(std::string_view workload_uid) const {
  auto it = workloads_.find(std::string(workload_uid));
  if (it == workloads_.end()) return std::nullopt;
  std::string sa = it->second.service_account.empty() ? "default" : it->second.service_account;
  return Identity(trust_domain_, it->second.ns, sa);
}

}  // namespace ambit::controller
