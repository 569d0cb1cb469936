// Tensor ops as module functions: each is a thin call into ATen. Arguments are
// checked by lib/tensor.ts first; the checks here keep the raw binding safe.
// Grad mode is the JS thread's (noGrad() toggles it around a callback).
#include <ATen/ATen.h>
#include <torch/torch.h>

#include <functional>
#include <utility>
#include <vector>

#include "args.h"
#include "dropout.h"
#include "errors.h"
#include "tensor.h"

namespace bt {

namespace {
using Info = const Napi::CallbackInfo&;
using Fn = std::function<at::Tensor(Info)>;

Napi::Value Ret(Info info, const at::Tensor& t) { return handles::Wrap(info.Env(), t); }

const at::Tensor& Self(Info info) { return args::Tensor(info, 0, "self"); }
at::Tensor Other(Info info) { return args::TensorOrScalar(info, 1, "other", args::Tensor(info, 0, "self")); }

std::optional<std::vector<int64_t>> OptDims(Info info, size_t i) {
  if (info[i].IsUndefined() || info[i].IsNull()) return std::nullopt;
  if (info[i].IsNumber()) return std::vector<int64_t>{args::Int(info, i, "dim")};
  return args::IntList(info, i, "dim");
}

at::Reduction::Reduction ParseReduction(Info info, size_t i) {
  if (info[i].IsUndefined()) return at::Reduction::Mean;
  std::string r = args::String(info, i, "reduction");
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  ThrowRange("Expected 'mean', 'sum' or 'none' for reduction but received '" + r + "'");
}

const std::vector<std::pair<const char*, Fn>>& Ops() {
  static const std::vector<std::pair<const char*, Fn>> ops = {
      // elementwise, broadcasting
      {"add", [](Info i) { return at::add(Self(i), Other(i)); }},
      {"sub", [](Info i) { return at::sub(Self(i), Other(i)); }},
      {"mul", [](Info i) { return at::mul(Self(i), Other(i)); }},
      {"div", [](Info i) { return at::div(Self(i), Other(i)); }},
      {"pow", [](Info i) { return at::pow(Self(i), Other(i)); }},
      {"maximum", [](Info i) { return at::maximum(Self(i), Other(i)); }},
      {"minimum", [](Info i) { return at::minimum(Self(i), Other(i)); }},
      {"eq", [](Info i) { return at::eq(Self(i), Other(i)); }},
      {"ne", [](Info i) { return at::ne(Self(i), Other(i)); }},
      {"lt", [](Info i) { return at::lt(Self(i), Other(i)); }},
      {"le", [](Info i) { return at::le(Self(i), Other(i)); }},
      {"gt", [](Info i) { return at::gt(Self(i), Other(i)); }},
      {"ge", [](Info i) { return at::ge(Self(i), Other(i)); }},
      {"neg", [](Info i) { return at::neg(Self(i)); }},
      {"exp", [](Info i) { return at::exp(Self(i)); }},
      {"log", [](Info i) { return at::log(Self(i)); }},
      {"sqrt", [](Info i) { return at::sqrt(Self(i)); }},
      {"abs", [](Info i) { return at::abs(Self(i)); }},
      {"tanh", [](Info i) { return at::tanh(Self(i)); }},
      {"sigmoid", [](Info i) { return at::sigmoid(Self(i)); }},
      {"relu", [](Info i) { return at::relu(Self(i)); }},
      {"gelu", [](Info i) {
         std::string approx = i[1].IsUndefined() ? "none" : args::String(i, 1, "approximate");
         if (approx != "none" && approx != "tanh")
           ThrowRange("Expected 'none' or 'tanh' for approximate but received '" + approx + "'");
         return at::gelu(Self(i), approx);
       }},
      {"isnan", [](Info i) { return at::isnan(Self(i)); }},
      {"clone", [](Info i) { return Self(i).clone(); }},
      {"detach", [](Info i) { return Self(i).detach(); }},
      {"contiguous", [](Info i) { return Self(i).contiguous(); }},
      {"where", [](Info i) {
         auto c = args::Tensor(i, 0, "condition");
         return at::where(c, args::TensorOrScalar(i, 1, "input", c), args::TensorOrScalar(i, 2, "other", c));
       }},
      {"maskedFill", [](Info i) {
         return Self(i).masked_fill(args::Tensor(i, 1, "mask"), args::Number(i, 2, "value"));
       }},
      // linear algebra
      {"matmul", [](Info i) { return at::matmul(Self(i), args::Tensor(i, 1, "other")); }},
      {"bmm", [](Info i) { return at::bmm(Self(i), args::Tensor(i, 1, "other")); }},
      {"linear", [](Info i) {
         auto b = args::OptTensor(i, 2, "bias");
         return at::linear(Self(i), args::Tensor(i, 1, "weight"), b ? *b : at::Tensor());
       }},
      // shape
      {"reshape", [](Info i) { return Self(i).reshape(args::IntList(i, 1, "shape")); }},
      {"view", [](Info i) { return Self(i).view(args::IntList(i, 1, "shape")); }},
      {"permute", [](Info i) { return Self(i).permute(args::IntList(i, 1, "dims")); }},
      {"transpose", [](Info i) { return Self(i).transpose(args::Int(i, 1, "dim0"), args::Int(i, 2, "dim1")); }},
      {"slice", [](Info i) {
         return Self(i).slice(args::Int(i, 1, "dim"), args::IntOr(i, 2, "start", 0),
                              args::IntOr(i, 3, "end", INT64_MAX), args::IntOr(i, 4, "step", 1));
       }},
      {"indexSelect", [](Info i) { return Self(i).index_select(args::Int(i, 1, "dim"), args::Tensor(i, 2, "index")); }},
      {"gather", [](Info i) { return Self(i).gather(args::Int(i, 1, "dim"), args::Tensor(i, 2, "index")); }},
      {"cat", [](Info i) { return at::cat(args::TensorList(i, 0, "tensors"), args::IntOr(i, 1, "dim", 0)); }},
      {"stack", [](Info i) { return at::stack(args::TensorList(i, 0, "tensors"), args::IntOr(i, 1, "dim", 0)); }},
      // reductions
      {"sum", [](Info i) {
         auto d = OptDims(i, 1);
         bool keep = args::BoolOr(i, 2, "keepdim", false);
         return d ? Self(i).sum(*d, keep) : Self(i).sum();
       }},
      {"mean", [](Info i) {
         auto d = OptDims(i, 1);
         bool keep = args::BoolOr(i, 2, "keepdim", false);
         return d ? Self(i).mean(*d, keep) : Self(i).mean();
       }},
      {"max", [](Info i) {
         if (i[1].IsUndefined()) return Self(i).max();
         return std::get<0>(Self(i).max(args::Int(i, 1, "dim"), args::BoolOr(i, 2, "keepdim", false)));
       }},
      {"argmax", [](Info i) {
         c10::optional<int64_t> d;
         if (!i[1].IsUndefined()) d = args::Int(i, 1, "dim");
         return Self(i).argmax(d, args::BoolOr(i, 2, "keepdim", false));
       }},
      {"softmax", [](Info i) { return Self(i).softmax(args::Int(i, 1, "dim")); }},
      {"logSoftmax", [](Info i) { return Self(i).log_softmax(args::Int(i, 1, "dim")); }},
      // neural-network functions
      {"layerNorm", [](Info i) {
         auto w = args::OptTensor(i, 2, "weight");
         auto b = args::OptTensor(i, 3, "bias");
         return at::layer_norm(Self(i), args::IntList(i, 1, "normalizedShape"), w ? *w : at::Tensor(),
                               b ? *b : at::Tensor(), args::NumberOr(i, 4, "eps", 1e-5));
       }},
      {"embedding", [](Info i) {
         return at::embedding(args::Tensor(i, 1, "weight"), args::Tensor(i, 0, "indices"),
                              args::IntOr(i, 2, "paddingIdx", -1));
       }},
      {"dropout", [](Info i) {
         double p = args::Number(i, 1, "p");
         if (p < 0 || p > 1) ThrowRange("Expected a probability in [0, 1] for p but received " + std::to_string(p));
         return bt::Dropout(Self(i), p, args::BoolOr(i, 2, "train", true));
       }},
      {"crossEntropy", [](Info i) {
         return at::cross_entropy_loss(Self(i), args::Tensor(i, 1, "target"), {}, ParseReduction(i, 3),
                                       args::IntOr(i, 2, "ignoreIndex", -100));
       }},
  };
  return ops;
}
}  // namespace

void RegisterTensorOps(Napi::Env env, Napi::Object exports) {
  for (const auto& [name, fn] : Ops()) {
    const Fn* f = &fn;
    exports.Set(name, Napi::Function::New(
                          env, [f](Info info) { return Guard(info.Env(), [&] { return Ret(info, (*f)(info)); }); },
                          name));
  }
}

}  // namespace bt
