// `picloud deploy DIR` and `picloud export APP DIR`: config as code from the
// command line, through the admin API (docs/deploy.md). `args` starts with
// the command's own name. Exit codes: 0 done, 1 refused or failed at the
// server, 2 a bad command line, folder or credentials.
#pragma once

#include <string>
#include <vector>

namespace picloud::kernel::deploy {

int run_deploy(const std::vector<std::string>& args);
int run_export(const std::vector<std::string>& args);

}  // namespace picloud::kernel::deploy
