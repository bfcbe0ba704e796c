// Turning a failed syscall into a JavaScript exception with errno name and message.
#pragma once

#include <napi.h>

#include <string>

namespace mcr {

// Throws an Error "<what>: <strerror(err)>" with .code = "EPERM" etc. and .errno = err.
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& what, int err);

// The symbolic name of an errno value ("EPERM"), or "E<number>" when unknown.
const char* ErrnoName(int err);

}  // namespace mcr
