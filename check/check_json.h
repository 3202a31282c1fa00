// The JSON form of a CheckResult (docs/report.md; schema_version kCheckSchemaVersion).
#pragma once

#include <nlohmann/json.hpp>

#include "check/check_result.h"

namespace pare::check {

nlohmann::json check_json(const CheckResult& result);

}  // namespace pare::check
