// Its descriptor says "t_other" but the file is t_misnamed.so.
#include "simple.hpp"
PICLOUD_PLUGIN(NothingPlugin, "t_other", "0.1.0", "", "")
