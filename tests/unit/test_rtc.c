// SPDX-License-Identifier: MIT
#include "unit/test.h"

static void placeholder(void)
{
}

TEST_SUITE(rtc, TEST_CASE(placeholder));
