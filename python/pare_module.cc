// _pare: the compiled half of the Python package (python/pare/__init__.py is the other).
// cli() runs the pare command line in-process and raises pare.Error with its message;
// Model runs a .pare file through the runtime's C API on numpy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <vector>

#include "pare/pare.h"
#include "runtime/tensor.h"
#include "tools/cli.h"

namespace py = pybind11;

namespace {

// pare.Error (created in PYBIND11_MODULE): the message, and the exit code the CLI would give.
PyObject* g_error = nullptr;

[[noreturn]] void raise(const std::string& message, int exit_code) {
  py::object error = py::reinterpret_borrow<py::object>(g_error)(message);
  error.attr("exit_code") = exit_code;
  PyErr_SetObject(g_error, error.ptr());
  throw py::error_already_set();
}

// Runs `pare ARGS...`; returns the exit code (0, or 3 when a quality budget is not met) and
// raises pare.Error for the others.
int cli(const std::vector<std::string>& args) {
  std::string error;
  int code;
  {
    py::gil_scoped_release release;  // conversions take seconds; let other Python threads run
    code = pare::cli::run_cli(args, &error);
  }
  if (code != 0 && code != 3) raise(error.empty() ? "pare exited with code " + std::to_string(code) : error, code);
  return code;
}

py::dtype numpy_dtype(pare_dtype d) {
  switch (d) {
    case PARE_DTYPE_FLOAT32: return py::dtype::of<float>();
    case PARE_DTYPE_UINT8: return py::dtype::of<uint8_t>();
    case PARE_DTYPE_INT8: return py::dtype::of<int8_t>();
    case PARE_DTYPE_INT32: return py::dtype::of<int32_t>();
    case PARE_DTYPE_INT64: return py::dtype::of<int64_t>();
    case PARE_DTYPE_BOOL: return py::dtype::of<bool>();
    case PARE_DTYPE_FLOAT64: return py::dtype::of<double>();
    default: return py::dtype("V1");
  }
}

class Model {
 public:
  Model(const std::string& path, int threads) {
    pare_model* model = nullptr;
    if (pare_model_load_file(path.c_str(), &model) != PARE_OK) {
      const std::string message = pare_model_error(model);
      pare_model_free(model);
      raise(message, 2);
    }
    pare_options* options = pare_options_create();
    if (pare_options_set_threads(options, threads) != PARE_OK) {
      pare_options_free(options);
      pare_model_free(model);
      raise("threads must be from 1 to 256, not " + std::to_string(threads), 2);
    }
    const pare_status st = pare_session_create(model, options, &session_);
    pare_options_free(options);
    pare_model_free(model);
    if (st != PARE_OK) {
      const std::string message = pare_session_error(session_);
      pare_session_free(session_);
      session_ = nullptr;
      raise(message, 2);
    }
  }
  ~Model() { pare_session_free(session_); }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // [(name, shape, numpy dtype)] of the inputs or outputs.
  py::list signature(bool inputs) const {
    py::list out;
    const size_t n = inputs ? pare_session_num_inputs(session_) : pare_session_num_outputs(session_);
    for (size_t i = 0; i < n; ++i) {
      size_t rank = 0;
      const int64_t* dims = inputs ? pare_session_input_shape(session_, i, &rank)
                                   : pare_session_output_shape(session_, i, &rank);
      const pare_dtype dtype = inputs ? pare_session_input_dtype(session_, i) : pare_session_output_dtype(session_, i);
      out.append(py::make_tuple(inputs ? pare_session_input_name(session_, i) : pare_session_output_name(session_, i),
                                py::tuple(py::cast(std::vector<int64_t>(dims, dims + rank))), numpy_dtype(dtype)));
    }
    return out;
  }

  // Runs on {input name: array} (or one array for a one-input model); returns {output name: array}.
  py::dict run(const py::object& feeds) {
    py::dict inputs;
    if (py::isinstance<py::dict>(feeds)) {
      inputs = feeds.cast<py::dict>();
    } else {
      if (pare_session_num_inputs(session_) != 1)
        raise("the model has " + std::to_string(pare_session_num_inputs(session_)) +
                  " inputs: give a dict of arrays by input name", 2);
      inputs[py::str(pare_session_input_name(session_, 0))] = feeds;
    }
    std::vector<bool> given(pare_session_num_inputs(session_), false);
    for (const auto& item : inputs) {
      const std::string name = py::str(item.first);
      const int index = pare_session_input_index(session_, name.c_str());
      if (index < 0) raise(pare_session_error(session_), 2);
      const pare_dtype dtype = pare_session_input_dtype(session_, index);
      py::array array = py::array::ensure(item.second);
      if (!array) raise("input '" + name + "' is not an array", 2);
      if (!array.dtype().is(numpy_dtype(dtype)))
        raise("input '" + name + "' is " + std::string(py::str(numpy_dtype(dtype))) + ", given " +
                  std::string(py::str(array.dtype())),
              2);
      // C order, so the bytes are the tensor's.
      array = py::array::ensure(array, py::array::c_style);
      std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
      const pare_status st = pare_session_set_input(session_, index, dtype, shape.data(), shape.size(), array.data(),
                                                    static_cast<size_t>(array.nbytes()));
      if (st != PARE_OK) raise(pare_session_error(session_), 2);
      given[index] = true;
    }
    for (size_t i = 0; i < given.size(); ++i)
      if (!given[i]) {
        size_t rank = 0;
        const int64_t* dims = pare_session_input_shape(session_, i, &rank);
        raise("input '" + std::string(pare_session_input_name(session_, i)) + "' " +
                  pare::rt::shape_str(std::vector<int64_t>(dims, dims + rank)) +
                  " is not given",
              2);
      }
    pare_status st;
    {
      py::gil_scoped_release release;
      st = pare_session_run(session_);
    }
    if (st != PARE_OK) raise(pare_session_error(session_), 2);
    py::dict outputs;
    for (size_t i = 0; i < pare_session_num_outputs(session_); ++i) {
      size_t rank = 0;
      const int64_t* dims = pare_session_output_shape(session_, i, &rank);
      py::array out(numpy_dtype(pare_session_output_dtype(session_, i)), std::vector<py::ssize_t>(dims, dims + rank));
      std::memcpy(out.mutable_data(), pare_session_output_data(session_, i), pare_session_output_bytes(session_, i));
      outputs[py::str(pare_session_output_name(session_, i))] = out;
    }
    return outputs;
  }

 private:
  pare_session* session_ = nullptr;
};

}  // namespace

PYBIND11_MODULE(_pare, m) {
  m.doc() = "pare's compiled core; use the pare package";
  static py::exception<std::runtime_error> error(m, "Error");
  g_error = error.ptr();
  m.def("cli", &cli, py::arg("args"), "Runs `pare ARGS...` in-process; returns 0 or 3, raises pare.Error otherwise");
  m.def("version", [] { return std::string(pare_version()); });
  py::class_<Model>(m, "Model")
      .def(py::init<const std::string&, int>(), py::arg("path"), py::arg("threads") = 1)
      .def_property_readonly("inputs", [](const Model& self) { return self.signature(true); })
      .def_property_readonly("outputs", [](const Model& self) { return self.signature(false); })
      .def("run", &Model::run, py::arg("inputs"));
}
