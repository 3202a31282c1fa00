#include "formats/onnx/importer.h"
