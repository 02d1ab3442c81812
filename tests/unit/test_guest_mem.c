// SPDX-License-Identifier: MIT
#include "unit/test.h"

static void placeholder(void)
{
}

TEST_SUITE(guest_mem, TEST_CASE(placeholder));
