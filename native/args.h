// Small readers for binding arguments. Each names the argument in its error,
// in the shape `Expected <what> for <name> but received <value>`.
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <ATen/ScalarOps.h>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "convert.h"
#include "errors.h"
#include "tensor.h"

namespace bt::args {

inline std::string Describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return std::to_string(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) return "'" + v.As<Napi::String>().Utf8Value() + "'";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsArray()) return "an array";
  if (v.IsFunction()) return "a function";
  return "an object";
}

[[noreturn]] inline void Bad(const char* what, const char* name, const Napi::Value& v) {
  ThrowType(std::string("Expected ") + what + " for " + name + " but received " + Describe(v));
}

inline const at::Tensor& Tensor(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return handles::From(info[i], name);
}

inline std::optional<at::Tensor> OptTensor(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info[i].IsUndefined() || info[i].IsNull()) return std::nullopt;
  return Tensor(info, i, name);
}

inline double Number(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) Bad("a number", name, info[i]);
  return info[i].As<Napi::Number>().DoubleValue();
}

inline double NumberOr(const Napi::CallbackInfo& info, size_t i, const char* name, double dflt) {
  if (info[i].IsUndefined()) return dflt;
  return Number(info, i, name);
}

inline int64_t Int(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) Bad("an integer", name, info[i]);
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) Bad("an integer", name, info[i]);
  return static_cast<int64_t>(d);
}

inline int64_t IntOr(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t dflt) {
  if (info[i].IsUndefined()) return dflt;
  return Int(info, i, name);
}

// An int (a rank, a source): range-checked, where a cast would wrap 2^32 to 0.
inline int Int32Or(const Napi::CallbackInfo& info, size_t i, const char* name, int dflt) {
  int64_t v = IntOr(info, i, name, dflt);
  if (v < INT32_MIN || v > INT32_MAX)
    ThrowRange(std::string("Expected a 32-bit integer for ") + name + " but received " + std::to_string(v));
  return static_cast<int>(v);
}

inline bool BoolOr(const Napi::CallbackInfo& info, size_t i, const char* name, bool dflt) {
  if (info[i].IsUndefined()) return dflt;
  if (!info[i].IsBoolean()) Bad("a boolean", name, info[i]);
  return info[i].As<Napi::Boolean>().Value();
}

inline std::string String(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsString()) Bad("a string", name, info[i]);
  return info[i].As<Napi::String>().Utf8Value();
}

inline std::vector<int64_t> IntList(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsArray()) Bad("an array of integers", name, info[i]);
  return ToIntList(info[i], name);
}

inline std::vector<at::Tensor> TensorList(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsArray()) Bad("an array of Tensors", name, info[i]);
  auto arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  for (uint32_t k = 0; k < arr.Length(); k++) out.push_back(handles::From(arr.Get(k), name));
  return out;
}

// A Tensor handle, or a scalar: a boolean, or a number boxed as [x] (a bare
// number is a handle). Scalars become "wrapped numbers", so type promotion
// follows PyTorch (int tensor * 2 stays int, * 2.5 becomes float).
inline at::Tensor TensorOrScalar(const Napi::CallbackInfo& info, size_t i, const char* name,
                                 const at::Tensor& like) {
  Napi::Value v = info[i];
  if (v.IsArray()) {
    auto a = v.As<Napi::Array>();
    if (a.Length() != 1) Bad("a Tensor or a scalar boxed as [x]", name, v);
    v = a.Get(uint32_t{0});
    if (!v.IsNumber() && !v.IsBoolean()) Bad("a Tensor or a scalar boxed as [x]", name, info[i]);
  } else if (!v.IsBoolean()) {
    return handles::From(v, name);
  }
  at::Scalar s;
  if (v.IsBoolean()) {
    s = at::Scalar(v.As<Napi::Boolean>().Value());
  } else {
    double d = v.As<Napi::Number>().DoubleValue();
    bool integral = d == static_cast<double>(static_cast<int64_t>(d)) && std::abs(d) < 9.0e15;
    s = integral ? at::Scalar(static_cast<int64_t>(d)) : at::Scalar(d);
  }
  at::Tensor t = c10::scalar_to_tensor(s, like.device());
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

}  // namespace bt::args
