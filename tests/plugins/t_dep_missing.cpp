#include "simple.hpp"
PICLOUD_PLUGIN(NothingPlugin, "t_dep_missing", "0.1.0", "", "t_nowhere")
