// Everything a PiCloud plugin written in C++ may use. See sdk/plugin.hpp to
// start; picloud/picloud.h is the C boundary underneath. Optional helpers:
// sdk/admin_routes.hpp (admin routes that answer like the kernel's) and
// sdk/collections.hpp (named collections, as kv and docs have them).
#pragma once

#include "picloud/sdk/abi.hpp"
#include "picloud/picloud.h"
#include "picloud/sdk/access.hpp"
#include "picloud/sdk/cluster.hpp"
#include "picloud/sdk/config.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/http.hpp"
#include "picloud/sdk/ids.hpp"
#include "picloud/sdk/jobs.hpp"
#include "picloud/sdk/json.hpp"
#include "picloud/sdk/keyring.hpp"
#include "picloud/sdk/log.hpp"
#include "picloud/sdk/metrics.hpp"
#include "picloud/sdk/plugin.hpp"
#include "picloud/sdk/resources.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/services.hpp"
#include "picloud/sdk/tasks.hpp"
#include "picloud/sdk/text.hpp"
#include "picloud/sdk/triggers.hpp"
#include "picloud/sdk/value.hpp"

// The plugin's side of the C boundary and PICLOUD_PLUGIN.
#include "picloud/sdk/bridge.hpp"
// What plugins ask the kernel for outside a context (JSON parsing).
#include "picloud/sdk/json_parse.hpp"
