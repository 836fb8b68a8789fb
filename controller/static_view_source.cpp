#include "controller/static_view_source.h"

#include <algorithm>

#include "controller/config/views.h"

namespace ambit::controller {
namespace {

// By (kind, uid). Sources hand objects over as runs of one kind, each sorted by uid (the config
// views' order): such runs are only put in kind order; anything else is sorted.
void sort_view(View& view) {
  struct Run {
    std::string_view kind;
    size_t begin, end;
  };
  std::vector<Run> runs;
  for (size_t i = 0; i < view.size(); ++i) {
    if (runs.empty() || view[i]->kind() != runs.back().kind) {
      runs.push_back({view[i]->kind(), i, i});
    } else if (view[i]->uid() < view[i - 1]->uid()) {
      runs.clear();  // not in runs: sort it all
      break;
    }
    runs.back().end = i + 1;
  }
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.kind < b.kind; });
  bool one_run_per_kind = std::adjacent_find(runs.begin(), runs.end(), [](const Run& a, const Run& b) {
                            return a.kind == b.kind;
                          }) == runs.end();
  if (runs.empty() || !one_run_per_kind) {
    std::sort(view.begin(), view.end(),
              [](const ResourcePtr& a, const ResourcePtr& b) { return key_less(*a, *b); });
    return;
  }
  View sorted;
  sorted.reserve(view.size());
  for (const Run& run : runs) {
    sorted.insert(sorted.end(), std::make_move_iterator(view.begin() + run.begin),
                  std::make_move_iterator(view.begin() + run.end));
  }
  view = std::move(sorted);
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
    if (res.has_virtual_service() || res.has_destination_rule() || res.has_local_rate_limit() ||
        (res.has_authorization_policy() && res.authorization_policy().target_refs_size() > 0)) {
      source->waypoint_only_.push_back(std::move(r));
      continue;
    }
    if (r->resource().has_workload()) {
      const v1::Workload& w = r->resource().workload();
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
  std::vector<std::string> served_hosts;  // FQDNs, the first of a Service's hosts
  std::vector<std::string> served_uids;
  for (const ResourcePtr& r : *base_) {
    if (r->resource().has_service() && r->resource().service().waypoint() == waypoint) {
      const v1::Service& s = r->resource().service();
      served_uids.push_back(s.namespace_() + "/" + s.name());
      served_hosts.push_back(s.hosts().empty()
                                 ? fmt::format("{}.{}.svc.cluster.local", s.name(), s.namespace_())
                                 : s.hosts(0));
    }
  }
  // The DestinationRules of the hosts its VirtualServices route to come too.
  std::string_view own_ns = std::string_view(waypoint).substr(0, waypoint.find('/'));
  std::vector<std::string> rule_hosts = served_hosts;
  for (const View* from : {base_.get(), &waypoint_only_}) {
    for (const ResourcePtr& r : *from) {
      const v1::Resource& res = r->resource();
      if (res.has_virtual_service() && config::l7_for_waypoint(res, served_hosts, own_ns)) {
        config::add_route_destinations(res.virtual_service(), rule_hosts);
      }
    }
  }
  auto keep = [&](const v1::Resource& res) {
    if (res.has_namespace_() || res.has_trust_bundle()) return true;
    if (res.has_authorization_policy()) {
      return config::policy_for_waypoint(res.authorization_policy(), waypoint, served_uids);
    }
    // The whole mesh (config::waypoint_view says why); the listener takes only its Services.
    if (res.has_service() || res.has_workload()) return !served_uids.empty();
    if (res.has_virtual_service()) {
      return !served_hosts.empty() && config::l7_for_waypoint(res, served_hosts, own_ns);
    }
    if (res.has_destination_rule()) {
      return !served_hosts.empty() && config::l7_for_waypoint(res, rule_hosts, own_ns);
    }
    if (res.has_local_rate_limit()) return config::l7_for_waypoint(res, served_hosts, own_ns);
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

// A binary search of base_ (sorted by kind, uid), not an index: building one of 100,000 pods for
// every configuration version would cost more than the version's push. (base_ has node-local
// fields stripped; these questions do not read them.)
const v1::Workload* StaticViewSource::find_workload(std::string_view uid) const {
  constexpr std::string_view kWorkload = "Workload";
  auto it = std::lower_bound(base_->begin(), base_->end(), uid,
                             [&](const ResourcePtr& r, std::string_view u) {
                               return r->kind() != kWorkload ? r->kind() < kWorkload : r->uid() < u;
                             });
  if (it == base_->end() || (*it)->kind() != kWorkload || (*it)->uid() != uid) return nullptr;
  return &(*it)->resource().workload();
}

bool StaticViewSource::workload_on_node(std::string_view workload_uid, std::string_view node) const {
  const v1::Workload* w = find_workload(workload_uid);
  if (w == nullptr) return false;
  if (w->node() == node) return true;
  // A waypoint client ("<ns>/<name>") may have the identity of its own pods.
  auto gw = w->labels().find("gateway.networking.k8s.io/gateway-name");
  auto slash = node.find('/');
  return slash != std::string_view::npos && gw != w->labels().end() && !gw->second.empty() &&
         w->namespace_() == node.substr(0, slash) && gw->second == node.substr(slash + 1);
}

std::optional<Identity> StaticViewSource::identity_of(std::string_view workload_uid) const {
  const v1::Workload* w = find_workload(workload_uid);
  if (w == nullptr) return std::nullopt;
  std::string sa = w->service_account().empty() ? "default" : w->service_account();
  return Identity(trust_domain_, w->namespace_(), sa);
}

}  // namespace ambit::controller
