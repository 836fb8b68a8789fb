// Turning OpenSSL's thread-local error queue into text for our Error messages.
#pragma once

#include <string>

namespace ambit {

// Drains the calling thread's OpenSSL error queue and returns its entries as
// "reason (detail); reason ..." (empty if the queue was empty). Draining matters: a stale entry
// left behind would be reported against the next, unrelated failure on this thread.
std::string take_openssl_errors();

// Empties the queue without reading it, before a call whose failure we will describe.
void clear_openssl_errors();

}  // namespace ambit
