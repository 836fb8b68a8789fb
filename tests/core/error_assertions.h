// Assertions on Result/Status errors: every failure test checks that the message names the
// check that failed, not merely that something failed.
#pragma once

#include <gtest/gtest.h>

#include <string>

#define EXPECT_ERROR_CONTAINS(result, fragment)                                   \
  do {                                                                            \
    const auto& result_ = (result);                                               \
    ASSERT_FALSE(result_.ok()) << "expected an error containing: " << (fragment); \
    EXPECT_NE(result_.error().message.find(fragment), std::string::npos)          \
        << "message: " << result_.error().message;                                \
  } while (0)

#define EXPECT_CONTAINS(text, fragment)                          \
  EXPECT_NE(std::string(text).find(fragment), std::string::npos) \
      << "text: '" << (text) << "' lacks '" << (fragment) << "'"
