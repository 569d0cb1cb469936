// The one boundary where C++ exceptions become JS errors.
// Synchronous entry points wrap their body in bt::Guard(env, fn); workers run
// bt::Capture(fn) off the JS thread, which fills a plain ErrorInfo (no Napi
// values), and turn it into a JS error later with bt::MakeError on the JS thread.
// The JS error classes come from lib/errors.ts through binding.setup(), so
// `instanceof TorchError` works for errors thrown here.
#pragma once
#include <napi.h>
#include <string>

namespace bt {

// kind is the JS class to build: "TorchOutOfMemoryError", "TorchIndexError",
// "TorchValueError", "TorchTypeError", "TorchNotImplementedError",
// "TorchDistError", "TorchError", or the built-ins "TypeError" / "RangeError".
struct ErrorInfo {
  std::string kind;
  std::string code;
  std::string message;
  bool ok() const { return kind.empty(); }
};

// Thrown by our own argument checks in C++ (TS validates first; this is the
// second line for callers of the raw binding).
struct ArgError : std::exception {
  std::string kind, msg;
  ArgError(std::string k, std::string m) : kind(std::move(k)), msg(std::move(m)) {}
  const char* what() const noexcept override { return msg.c_str(); }
};
[[noreturn]] void ThrowType(const std::string& msg);
[[noreturn]] void ThrowRange(const std::string& msg);
// A TorchError with a code, e.g. ERR_DISPOSED, ERR_BUSY.
struct CodedError : std::exception {
  std::string code, msg;
  CodedError(std::string c, std::string m) : code(std::move(c)), msg(std::move(m)) {}
  const char* what() const noexcept override { return msg.c_str(); }
};

// Runs fn, turning any exception into ErrorInfo. Safe off the JS thread.
ErrorInfo CaptureCurrent();  // call from inside a catch(...) block
template <typename F>
ErrorInfo Capture(F&& fn) {
  try {
    fn();
    return {};
  } catch (...) {
    return CaptureCurrent();
  }
}

Napi::Error MakeError(Napi::Env env, const ErrorInfo& info);

// Wraps a synchronous binding body: returns its value or throws the JS error.
template <typename F>
auto Guard(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw MakeError(env, CaptureCurrent());
  }
}

void SetErrorClasses(Napi::Env env, Napi::Object classes);

}  // namespace bt
