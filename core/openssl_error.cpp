#include "core/openssl_error.h"

#include <openssl/err.h>

namespace ambit {

std::string take_openssl_errors() {
  std::string text;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    // The bare reason ("certificate verify failed") reads better in a log line than the
    // "error:0A000086:SSL routines::" form; fall back to that form for unregistered codes.
    std::string entry;
    if (const char* reason = ERR_reason_error_string(code)) {
      entry = reason;
    } else {
      char buf[256];
      ERR_error_string_n(code, buf, sizeof(buf));
      entry = buf;
    }
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
      entry += " (";
      entry += data;
      entry += ")";
    }
    // OpenSSL often repeats a reason we (or it) already queued with more detail.
    if (text.find(entry) != std::string::npos) continue;
    if (!text.empty()) text += "; ";
    text += entry;
  }
  return text;
}

void clear_openssl_errors() { ERR_clear_error(); }

}  // namespace ambit
