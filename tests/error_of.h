// For tests of error messages: the message of the cxr::Error that f() throws. A test that expects an error
// fails when there is none, or when the error is not a cxr::Error (whose messages name files and shapes).
#pragma once
#include <gtest/gtest.h>

#include <exception>
#include <string>

#include "core/error.h"

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const cxr::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-cxr exception: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "did not throw";
  return "";
}
