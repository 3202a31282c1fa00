#include "check/labelled_data.h"

#include <cmath>
#include <filesystem>

#include "calibration/npy.h"
#include "ir/status.h"
#include "runtime/tensor.h"

namespace pare::check {

std::vector<int64_t> read_labels(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw_invalid(path + ": no such labels file");
  const npy::Array a = npy::read_npy(path);
  if (a.shape.size() != 1 || (a.type != npy::ElemType::kInt64 && a.type != npy::ElemType::kInt32))
    throw_invalid(path + ": labels must be a one-dimensional int64 or int32 array, the array is " +
                  std::string(npy::elem_type_name(a.type)) + " " + rt::shape_str(a.shape));
  std::vector<int64_t> out(static_cast<size_t>(a.shape[0]));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = a.type == npy::ElemType::kInt64 ? a.as<int64_t>()[i] : a.as<int32_t>()[i];
  return out;
}

void require_label_count(const std::vector<int64_t>& labels, const std::string& labels_path, int64_t rows,
                         const std::string& data_path) {
  if (static_cast<int64_t>(labels.size()) != rows)
    throw_invalid(labels_path + " has " + std::to_string(labels.size()) + " labels but " + data_path + " has " +
                  std::to_string(rows) + " rows");
}

void require_labels_in_range(const std::vector<int64_t>& labels, int64_t classes, const std::string& labels_path) {
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= classes)
      throw_invalid(labels_path + ": row " + std::to_string(i) + " has label " + std::to_string(labels[i]) +
                    ", not one of the model's " + std::to_string(classes) + " classes (0 to " +
                    std::to_string(classes - 1) + ")");
}

void require_finite_rows(const float* values, size_t n, size_t per_row, const std::string& what) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(values[i]))
      throw_invalid(what + ": row " + std::to_string(per_row ? i / per_row : 0) + " holds a NaN or infinite value");
}

void require_finite_outputs(const float* values, size_t n, size_t per_row, size_t first_row,
                            const std::string& data_path, const std::string& output, const std::string& model) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(values[i]))
      throw_invalid(data_path + ": row " + std::to_string(first_row + (per_row ? i / per_row : 0)) + ": " + output +
                    " holds a NaN or infinite value (" + model + " overflows on these inputs in float)");
}

}  // namespace pare::check
