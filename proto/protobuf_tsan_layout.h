// Forced first into every C++ file that can see protobuf's headers, in the ThreadSanitizer build
// only (proto/CMakeLists.txt).
//
// map_field.h gives MapFieldBase two more members when __SANITIZE_THREAD__ is defined (80 bytes
// instead of 72). Debian's libprotobuf is built without TSan, so its out-of-line MapFieldBase
// code used the 72-byte layout on objects that our instrumented, generated code laid out with 80:
// Workload::ArenaDtor -> MapFieldBase::Destruct() read its pointer 8 bytes off and deleted one
// that was never allocated (TSan's allocator CHECK that aborted PushServerTest). That is neither
// a race nor a false positive but a layout mismatch, removed by letting our files see the layout
// the library was built with. Only the inline ConstAccess()/MutableAccess() checks are lost;
// TSan still sees every access to the message memory itself.
#pragma once

#include <cstddef>  // libstdc++'s own configuration (_GLIBCXX_TSAN) still sees the macro

#pragma push_macro("__SANITIZE_THREAD__")
#undef __SANITIZE_THREAD__
#include <google/protobuf/map_field.h>
#pragma pop_macro("__SANITIZE_THREAD__")
