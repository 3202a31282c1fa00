#include "ir/shape_inference.h"
