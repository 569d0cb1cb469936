// Conversions between JS values and libtorch types: dtype and device names,
// shapes, and TypedArray <-> tensor copies. Every conversion copies: a tensor
// never aliases JS memory (V8 may move or free it), and a TypedArray handed
// back to JS owns its own buffer.
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace bt {

// "float32" <-> at::kFloat, ... ; throws RangeError naming `what` on unknown names.
at::ScalarType ParseDtype(const std::string& name, const char* what = "dtype");
std::string DtypeName(at::ScalarType t);
// "cpu", "cuda", "cuda:1"
at::Device ParseDevice(const std::string& name, const char* what = "device");
std::string DeviceName(const at::Device& d);

std::vector<int64_t> ToIntList(const Napi::Value& v, const char* what);
Napi::Array FromIntList(Napi::Env env, at::IntArrayRef v);

// Copies a TypedArray into a new CPU tensor of the given shape and dtype.
// The TypedArray's element type must match the dtype's storage (float16 and
// bfloat16 come as Uint16Array bits or Float32Array values).
at::Tensor TensorFromTypedArray(const Napi::TypedArray& arr, std::vector<int64_t> shape,
                                at::ScalarType dtype);
// Copies a tensor (any device) into a new TypedArray of its storage type;
// float16 / bfloat16 are widened to Float32Array, bool to Uint8Array.
Napi::Value TypedArrayFromTensor(Napi::Env env, const at::Tensor& t);
// The same conversion in two halves, so the copy can run on a worker thread.
at::Tensor HostCopyForJs(const at::Tensor& t);
Napi::Value TypedArrayFromHost(Napi::Env env, const at::Tensor& host);

}  // namespace bt
