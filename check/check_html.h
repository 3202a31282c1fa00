// The HTML report of `pare check`: one self-contained page (inline CSS and SVG, no script,
// nothing fetched) with the verdict and budgets, the whole-model metrics, a per-layer SNR
// chart, a stored-against-dense bytes chart and a table of every layer (docs/report.md).
#pragma once

#include <string>

#include "check/check_result.h"

namespace pare::check {

// The page for `r`: the same bytes for the same result (no dates, no host names), every
// string from the models escaped.
std::string render_html(const CheckResult& r);

// render_html() written to `path` through a temporary file and a rename; throws
// pare::Error (kInvalidInput, exit code 2) when the file cannot be written.
void write_html(const CheckResult& r, const std::string& path);

}  // namespace pare::check
