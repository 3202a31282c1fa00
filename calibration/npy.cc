#include "calibration/npy.h"
