// Tensors held by JS live in a per-environment table; JS holds a handle, a
// plain number naming a slot and its generation.
// Why not one ObjectWrap per tensor: a profile of `add` on 1-element tensors
// spent ~1.2 µs of 1.9 µs in Node-API's wrap/reference/finalizer bookkeeping
// (RefTracker hashing, mallocs, the finalizer queue) and ~0.35 µs in ATen.
// A slot costs an index; lib/tensor.ts owns the handle in a Tensor object and
// frees it from dispose() or, as a safety net, a FinalizationRegistry.
// Handles: (generation * 2 + big) * 2^24 + slot, generation >= 1, so small
// numbers (the scalars a caller might pass by mistake) are never valid
// handles, and a handle whose slot was freed and reused is stale rather than
// an alias. `big` marks tensors reported as external memory: lib/tensor.ts
// hands those to the GC finalizer at once, the small ones a tick later.
// CPU buffers of 16 KB and more are reported to V8 as external memory while
// their slot holds them, so the GC feels their weight.
// Threading: the table belongs to the JS thread of its environment. Workers
// copy the at::Tensor (a refcounted handle) out before they start.
#pragma once
#include <napi.h>
#include <ATen/core/Tensor.h>

#include <vector>

namespace bt {

class TensorTable {
 public:
  TensorTable() = default;
  TensorTable(const TensorTable&) = delete;
  TensorTable& operator=(const TensorTable&) = delete;
  ~TensorTable();

  double Add(Napi::Env env, at::Tensor t);
  // nullptr when h is not a handle of a live tensor; *disposed tells which.
  at::Tensor* Find(double h, bool* disposed = nullptr);
  // False when h was not live (already freed, or never a handle).
  bool Release(Napi::Env env, double h);

 private:
  struct Slot {
    at::Tensor tensor;
    uint32_t gen = 1;
    int64_t external_bytes = 0;
  };
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
};

namespace handles {
// A new handle on t (undefined tensors are an error).
Napi::Value Wrap(Napi::Env env, at::Tensor t);
// The tensor behind a handle argument; TypeError naming `what` when v is not
// a handle, TorchError ERR_DISPOSED when it was freed.
at::Tensor& From(const Napi::Value& v, const char* what);
}  // namespace handles

// Tensors currently held by JS handles, all environments (leak tests, like tfjs numTensors).
int64_t LiveTensors();

// Handle functions (tensor.cc), ops (tensor_ops.cc) and factories (tensor_create.cc).
void RegisterTensor(Napi::Env env, Napi::Object exports);
void RegisterTensorOps(Napi::Env env, Napi::Object exports);
void RegisterTensorCreate(Napi::Env env, Napi::Object exports);

}  // namespace bt
