#include "common/js_glue.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <climits>
#include <cmath>

namespace mcr {

int64_t IntegerIn(Napi::Env env, Napi::Value value, const std::string& name, int64_t min, int64_t max) {
  if (value.IsNumber()) {
    const double number = value.As<Napi::Number>().DoubleValue();
    if (std::isfinite(number) && std::trunc(number) == number && number >= static_cast<double>(min) &&
        number <= static_cast<double>(max)) {
      return static_cast<int64_t>(number);
    }
  }
  throw Napi::TypeError::New(env, name + " must be an integer in " + std::to_string(min) + ".." + std::to_string(max));
}

int FdValue(Napi::Env env, Napi::Value value, const std::string& name) {
  return static_cast<int>(IntegerIn(env, value, name, 0, INT_MAX));
}

std::string StringValue(Napi::Env env, Napi::Value value, const std::string& name) {
  if (!value.IsString()) throw Napi::TypeError::New(env, name + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

std::string InterfaceNameValue(Napi::Env env, Napi::Value value, const std::string& name) {
  std::string text = StringValue(env, value, name);
  if (text.empty() || text.size() >= IFNAMSIZ || text.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(env, name + " must be an interface name of 1.." + std::to_string(IFNAMSIZ - 1) +
                                        " characters");
  }
  return text;
}

in_addr Ipv4Value(Napi::Env env, Napi::Value value, const std::string& name) {
  in_addr address{};
  // inet_pton accepts exactly four decimal octets, nothing shorter or hex.
  if (!value.IsString() || inet_pton(AF_INET, value.As<Napi::String>().Utf8Value().c_str(), &address) != 1) {
    throw Napi::TypeError::New(env, name + " must be an IPv4 address in dotted-quad form");
  }
  return address;
}

Napi::Object ObjectValue(Napi::Env env, Napi::Value value, const std::string& name) {
  if (!value.IsObject()) throw Napi::TypeError::New(env, name + " must be an object");
  return value.As<Napi::Object>();
}

bool BooleanValue(Napi::Env env, Napi::Value value, const std::string& name) {
  if (!value.IsBoolean()) throw Napi::TypeError::New(env, name + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

void ReportThrown(napi_env env, napi_status call_status) {
  napi_value error;
  if (call_status == napi_pending_exception && napi_get_and_clear_last_exception(env, &error) == napi_ok) {
    napi_fatal_exception(env, error);
  }
}

}  // namespace mcr
