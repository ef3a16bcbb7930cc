// Everything a PiCloud plugin may use. See sdk/plugin.hpp to start.
#pragma once

#include "picloud/sdk/abi.hpp"
#include "picloud/sdk/access.hpp"
#include "picloud/sdk/config.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/http.hpp"
#include "picloud/sdk/json.hpp"
#include "picloud/sdk/log.hpp"
#include "picloud/sdk/metrics.hpp"
#include "picloud/sdk/plugin.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/services.hpp"
#include "picloud/sdk/tasks.hpp"
#include "picloud/sdk/triggers.hpp"
#include "picloud/sdk/value.hpp"
