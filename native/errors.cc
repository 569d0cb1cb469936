#include "errors.h"

#include <c10/util/Exception.h>
#include <cstdlib>
#include <new>
#include <typeinfo>

#include "instance.h"

namespace bt {

void ThrowType(const std::string& msg) { throw ArgError("TypeError", msg); }
void ThrowRange(const std::string& msg) { throw ArgError("RangeError", msg); }

namespace {
// PyTorch users know this switch: the full C++ backtrace only when asked for.
bool ShowCppStack() {
  const char* v = std::getenv("TORCH_SHOW_CPP_STACKTRACES");
  return v && std::string(v) == "1";
}
std::string C10Message(const c10::Error& e) {
  return ShowCppStack() ? e.what() : e.what_without_backtrace();
}
}  // namespace

// Most specific first, as torch/csrc/Exceptions.h does for Python.
ErrorInfo CaptureCurrent() {
  try {
    throw;
  } catch (const ArgError& e) {
    return {e.kind, "ERR_INVALID_ARG", e.msg};
  } catch (const CodedError& e) {
    return {"TorchError", e.code, e.msg};
  } catch (const c10::OutOfMemoryError& e) {
    return {"TorchOutOfMemoryError", "ERR_TORCH_OOM", C10Message(e)};
  } catch (const c10::IndexError& e) {
    return {"TorchIndexError", "ERR_TORCH_INDEX", C10Message(e)};
  } catch (const c10::ValueError& e) {
    return {"TorchValueError", "ERR_TORCH_VALUE", C10Message(e)};
  } catch (const c10::TypeError& e) {
    return {"TorchTypeError", "ERR_TORCH_TYPE", C10Message(e)};
  } catch (const c10::NotImplementedError& e) {
    return {"TorchNotImplementedError", "ERR_TORCH_NOT_IMPLEMENTED", C10Message(e)};
  } catch (const c10::DistError& e) {
    return {"TorchDistError", "ERR_TORCH_DIST", C10Message(e)};
  } catch (const c10::Error& e) {
    return {"TorchError", "ERR_TORCH", C10Message(e)};
  } catch (const std::bad_alloc&) {
    return {"TorchOutOfMemoryError", "ERR_TORCH_OOM", "out of memory (std::bad_alloc)"};
  } catch (const std::exception& e) {
    // Gloo's IoException / EnforceNotMet (a dead peer, a closed socket) are not c10 errors.
    std::string type = typeid(e).name();
    if (type.find("gloo") != std::string::npos) return {"TorchDistError", "ERR_TORCH_DIST", e.what()};
    return {"TorchError", "ERR_TORCH", e.what()};
  } catch (...) {
    return {"TorchError", "ERR_TORCH", "unknown native exception"};
  }
}

void SetErrorClasses(Napi::Env env, Napi::Object classes) {
  auto* data = Instance(env);
  for (const auto& name : classes.GetPropertyNames().As<Napi::Array>()) {
    Napi::Value key = static_cast<Napi::Value>(name.second);
    Napi::Value ctor = classes.Get(key);
    if (ctor.IsFunction()) {
      data->error_classes[key.As<Napi::String>().Utf8Value()] =
          Napi::Persistent(ctor.As<Napi::Function>());
    }
  }
}

Napi::Error MakeError(Napi::Env env, const ErrorInfo& info) {
  if (info.kind == "TypeError") {
    auto e = Napi::TypeError::New(env, info.message);
    e.Set("code", info.code);
    return e;
  }
  if (info.kind == "RangeError") {
    auto e = Napi::RangeError::New(env, info.message);
    e.Set("code", info.code);
    return e;
  }
  auto* data = Instance(env);
  auto it = data->error_classes.find(info.kind);
  if (it == data->error_classes.end()) it = data->error_classes.find("TorchError");
  if (it != data->error_classes.end()) {
    // A class handed to setup() that throws or cannot be constructed must not
    // leave a worker's Promise unsettled (the throw would escape the
    // thread-safe call): fall back to a plain Error with the same message.
    try {
      Napi::Object err = it->second.New({Napi::String::New(env, info.message), Napi::String::New(env, info.code)});
      if (err.IsObject()) return Napi::Error(env, err);
    } catch (const Napi::Error&) {
    }
  }
  auto e = Napi::Error::New(env, info.message);
  e.Set("code", info.code);
  return e;
}

}  // namespace bt
