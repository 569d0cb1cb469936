#include "convert.h"

#include <cstring>

#include "errors.h"

namespace bt {

namespace {
struct DtypeEntry {
  const char* name;
  at::ScalarType type;
};
constexpr DtypeEntry kDtypes[] = {
    {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf},
    {"bfloat16", at::kBFloat16}, {"int64", at::kLong}, {"int32", at::kInt},
    {"int16", at::kShort}, {"int8", at::kChar}, {"uint8", at::kByte}, {"bool", at::kBool},
};
}  // namespace

at::ScalarType ParseDtype(const std::string& name, const char* what) {
  for (const auto& e : kDtypes)
    if (name == e.name) return e.type;
  ThrowRange(std::string("Expected one of float32, float64, float16, bfloat16, int64, int32, "
                         "int16, int8, uint8, bool for ") +
             what + " but received '" + name + "'");
}

std::string DtypeName(at::ScalarType t) {
  for (const auto& e : kDtypes)
    if (t == e.type) return e.name;
  return c10::toString(t);
}

at::Device ParseDevice(const std::string& name, const char* what) {
  if (name == "cpu") return at::Device(at::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (name == "cuda") return at::Device(at::kCUDA);
    if (name.size() > 5 && name[4] == ':') {
      char* end = nullptr;
      long idx = std::strtol(name.c_str() + 5, &end, 10);
      if (*end == '\0' && idx >= 0 && idx < 64) return at::Device(at::kCUDA, static_cast<int8_t>(idx));
    }
  }
  ThrowRange(std::string("Expected 'cpu', 'cuda' or 'cuda:N' for ") + what + " but received '" +
             name + "'");
}

std::string DeviceName(const at::Device& d) { return d.str(); }

std::vector<int64_t> ToIntList(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) ThrowType(std::string("Expected an array of integers for ") + what);
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value x = arr.Get(i);
    if (!x.IsNumber()) ThrowType(std::string("Expected an array of integers for ") + what);
    double d = x.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d)))
      ThrowType(std::string("Expected an array of integers for ") + what + " but received " +
                std::to_string(d));
    out[i] = static_cast<int64_t>(d);
  }
  return out;
}

Napi::Array FromIntList(Napi::Env env, at::IntArrayRef v) {
  auto arr = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) arr.Set(i, Napi::Number::New(env, static_cast<double>(v[i])));
  return arr;
}

namespace {
// The TypedArray type that holds each dtype's elements.
napi_typedarray_type StorageArrayType(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return napi_float32_array;
    case at::kDouble: return napi_float64_array;
    case at::kLong: return napi_bigint64_array;
    case at::kInt: return napi_int32_array;
    case at::kShort: return napi_int16_array;
    case at::kChar: return napi_int8_array;
    case at::kByte: case at::kBool: return napi_uint8_array;
    case at::kHalf: case at::kBFloat16: return napi_float32_array;  // widened
    default: ThrowType("unsupported dtype " + DtypeName(t));
  }
}
const char* ArrayTypeName(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_int32_array: return "Int32Array";
    case napi_int16_array: return "Int16Array";
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint16_array: return "Uint16Array";
    default: return "TypedArray";
  }
}
}  // namespace

at::Tensor TensorFromTypedArray(const Napi::TypedArray& arr, std::vector<int64_t> shape,
                                at::ScalarType dtype) {
  int64_t numel = 1;
  for (auto s : shape) {
    if (s < 0) ThrowRange("Expected non-negative sizes for shape but received " + std::to_string(s));
    numel *= s;
  }
  if (static_cast<int64_t>(arr.ElementLength()) != numel)
    ThrowRange("Expected " + std::to_string(numel) + " elements for data (shape " +
               c10::str(at::IntArrayRef(shape)) + ") but received " +
               std::to_string(arr.ElementLength()));
  auto src_type = arr.TypedArrayType();
  const uint8_t* src = static_cast<const uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  bool half = dtype == at::kHalf || dtype == at::kBFloat16;
  if (half && src_type == napi_uint16_array) {
    auto t = at::empty(shape, at::TensorOptions().dtype(dtype));
    std::memcpy(t.data_ptr(), src, numel * 2);
    return t;
  }
  napi_typedarray_type want = StorageArrayType(dtype);
  if (src_type != want)
    ThrowType(std::string("Expected ") + ArrayTypeName(want) + " for data of dtype " +
              DtypeName(dtype) + " but received " + ArrayTypeName(src_type));
  at::ScalarType load = half ? at::kFloat : (dtype == at::kBool ? at::kByte : dtype);
  auto t = at::empty(shape, at::TensorOptions().dtype(load));
  if (numel) std::memcpy(t.data_ptr(), src, numel * t.element_size());
  if (dtype == at::kBool) return t.ne(0);
  return half ? t.to(dtype) : t;
}

at::Tensor HostCopyForJs(const at::Tensor& t) {
  at::Tensor h = t.detach();
  if (h.scalar_type() == at::kHalf || h.scalar_type() == at::kBFloat16) h = h.to(at::kFloat);
  if (h.scalar_type() == at::kBool) h = h.to(at::kByte);
  // No clone: TypedArrayFromHost copies into a fresh ArrayBuffer anyway.
  return h.to(at::kCPU).contiguous();
}

Napi::Value TypedArrayFromHost(Napi::Env env, const at::Tensor& h) {
  size_t n = h.numel();
  size_t bytes = n * h.element_size();
  auto buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes) std::memcpy(buf.Data(), h.data_ptr(), bytes);
  switch (h.scalar_type()) {
    case at::kFloat: return Napi::Float32Array::New(env, n, buf, 0);
    case at::kDouble: return Napi::Float64Array::New(env, n, buf, 0);
    case at::kLong: return Napi::TypedArrayOf<int64_t>::New(env, n, buf, 0, napi_bigint64_array);
    case at::kInt: return Napi::Int32Array::New(env, n, buf, 0);
    case at::kShort: return Napi::Int16Array::New(env, n, buf, 0);
    case at::kChar: return Napi::Int8Array::New(env, n, buf, 0);
    case at::kByte: return Napi::Uint8Array::New(env, n, buf, 0);
    default: ThrowType("unsupported dtype " + DtypeName(h.scalar_type()));
  }
}

Napi::Value TypedArrayFromTensor(Napi::Env env, const at::Tensor& t) {
  return TypedArrayFromHost(env, HostCopyForJs(t));
}

}  // namespace bt
