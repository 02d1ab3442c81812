// SPDX-License-Identifier: MIT
#include "unit/test.h"

static void placeholder(void)
{
}

TEST_SUITE(bzimage, TEST_CASE(placeholder));
