#include "formats/pare/writer.h"
