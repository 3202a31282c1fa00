// What makes labelled data usable for a top-1 metric, shared by `pare check` and `pare eval`:
// labels of the right form, length and range, and data rows a model can score.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pare::check {

// The labels in `path`: a one-dimensional int64 or int32 .npy. kInvalidInput naming the file
// for a missing file or another rank or dtype.
std::vector<int64_t> read_labels(const std::string& path);

// kInvalidInput unless there is one label per row of the data in `data_path`.
void require_label_count(const std::vector<int64_t>& labels, const std::string& labels_path, int64_t rows,
                         const std::string& data_path);

// kInvalidInput naming the row for a label outside [0, classes): such a label matches no
// prediction, so top-1 would be 0% for every model and every budget on it meaningless.
void require_labels_in_range(const std::vector<int64_t>& labels, int64_t classes, const std::string& labels_path);

// kInvalidInput naming the row of the first NaN or infinite value among `n` values in rows of
// `per_row`: a metric over rows a model cannot score means nothing.
void require_finite_rows(const float* values, size_t n, size_t per_row, const std::string& what);

// kInvalidInput naming the data row of the first NaN or infinite value among `n` values of a
// model's output (rows of `per_row`, the first being row `first_row` of `data_path`): finite
// data on which the model overflows in float would make every metric NaN, and an argmax
// over NaN a silent prediction. `output` names the output ("the teacher's output"), `model`
// what overflows.
void require_finite_outputs(const float* values, size_t n, size_t per_row, size_t first_row,
                            const std::string& data_path, const std::string& output, const std::string& model);

}  // namespace pare::check
