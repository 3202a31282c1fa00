#include "ir/verifier.h"
