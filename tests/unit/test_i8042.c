// SPDX-License-Identifier: MIT
#include "unit/test.h"

static void placeholder(void)
{
}

TEST_SUITE(i8042, TEST_CASE(placeholder));
