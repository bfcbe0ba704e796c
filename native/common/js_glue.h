// Shared N-API glue: argument validation (TypeError on anything malformed) and translation of
// C++ failures into JavaScript errors.
#pragma once

#include <napi.h>
#include <netinet/in.h>

#include <cstdint>
#include <exception>
#include <string>
#include <utility>

#include "common/errors.h"
#include "common/fd.h"

namespace mcr {

// `value` as an integer in [min, max]; TypeError "<name> must be an integer in min..max" otherwise.
int64_t IntegerIn(Napi::Env env, Napi::Value value, const std::string& name, int64_t min, int64_t max);

// A file descriptor number (0..INT_MAX).
int FdValue(Napi::Env env, Napi::Value value, const std::string& name);

std::string StringValue(Napi::Env env, Napi::Value value, const std::string& name);

// An interface name: a string of 1..15 characters (IFNAMSIZ - 1).
std::string InterfaceNameValue(Napi::Env env, Napi::Value value, const std::string& name);

// A dotted-quad IPv4 address, in network byte order.
in_addr Ipv4Value(Napi::Env env, Napi::Value value, const std::string& name);

Napi::Object ObjectValue(Napi::Env env, Napi::Value value, const std::string& name);

// `value` as a bool; throws a TypeError naming `name` unless it is a boolean.
bool BooleanValue(Napi::Env env, Napi::Value value, const std::string& name);

// Runs `body`, turning a SyscallError into an Error with .code/.errno (ThrowErrno) and any other
// C++ exception into a plain Error, so that nothing but Napi::Error leaves a binding.
template <typename Body>
auto TranslateErrors(Napi::Env env, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const SyscallError& e) {
    ThrowErrno(env, e.step(), e.err());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// After calling a JavaScript callback from a thread-safe function: a callback that threw becomes an
// uncaught exception, as for any event listener (Node 20 would otherwise only print a deprecation
// warning). napi_fatal_exception refuses while the environment is terminating.
void ReportThrown(napi_env env, napi_status call_status);

}  // namespace mcr
