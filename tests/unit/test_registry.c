// SPDX-License-Identifier: MIT
#include "unit/test.h"

static void placeholder(void)
{
}

TEST_SUITE(registry, TEST_CASE(placeholder));
