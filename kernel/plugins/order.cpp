#include "kernel/plugins/order.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>

namespace picloud::kernel::plugins {

sdk::Result<std::vector<std::size_t>> dependency_order(const std::vector<LoadedPlugin>& plugins) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < plugins.size(); ++i) index[plugins[i].name] = i;
  for (const auto& p : plugins)
    for (const auto& dep : p.depends)
      if (!index.count(dep))
        return sdk::make_error(sdk::ErrorKind::not_found, "plugin '" + p.name + "' depends on '" + dep +
                                                              "', which is not enabled or not found");

  enum class Mark { none, visiting, done };
  std::vector<Mark> marks(plugins.size(), Mark::none);
  std::vector<std::size_t> order, stack;
  std::optional<sdk::Error> failure;
  std::function<void(std::size_t)> visit = [&](std::size_t i) {
    if (failure || marks[i] == Mark::done) return;
    if (marks[i] == Mark::visiting) {
      auto from = std::find(stack.begin(), stack.end(), i);
      std::string chain;
      for (auto it = from; it != stack.end(); ++it) chain += plugins[*it].name + " -> ";
      failure = sdk::make_error(sdk::ErrorKind::invalid_argument,
                                "plugin dependency cycle: " + chain + plugins[i].name);
      return;
    }
    marks[i] = Mark::visiting;
    stack.push_back(i);
    for (const auto& dep : plugins[i].depends) visit(index[dep]);
    stack.pop_back();
    marks[i] = Mark::done;
    order.push_back(i);
  };
  for (std::size_t i = 0; i < plugins.size(); ++i) visit(i);
  if (failure) return *failure;
  return order;
}

}  // namespace picloud::kernel::plugins
