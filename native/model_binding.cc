#include "model_binding.h"

#include <cmath>

#include "args.h"
#include "convert.h"
#include "dist_binding.h"
#include "errors.h"
#include "tensor.h"
#include "worker.h"

namespace bt {

namespace {
using Info = const Napi::CallbackInfo&;

// config: a plain object with HF config.json keys (already validated in TS).
bert::BertConfig ParseConfig(const Napi::Object& o) {
  bert::BertConfig c;
  auto i64 = [&](const char* k, int64_t& dst) {
    if (!o.Has(k) || !o.Get(k).IsNumber()) return;
    double d = o.Get(k).As<Napi::Number>().DoubleValue();
    // NaN, fractions and values past int64 would otherwise be cast silently (NaN to 0).
    if (!(std::abs(d) < 9.2e18) || d != std::floor(d))
      ThrowRange(std::string("Expected an integer for config.") + k + " but received " + args::Describe(o.Get(k)));
    dst = static_cast<int64_t>(d);
  };
  auto f64 = [&](const char* k, double& dst) {
    if (o.Has(k) && o.Get(k).IsNumber()) dst = o.Get(k).As<Napi::Number>().DoubleValue();
  };
  auto str = [&](const char* k, std::string& dst) {
    if (o.Has(k) && o.Get(k).IsString()) dst = o.Get(k).As<Napi::String>().Utf8Value();
  };
  auto flag = [&](const char* k, bool& dst) {
    if (o.Has(k) && o.Get(k).IsBoolean()) dst = o.Get(k).As<Napi::Boolean>().Value();
  };
  i64("vocab_size", c.vocab_size);
  i64("hidden_size", c.hidden_size);
  i64("num_hidden_layers", c.num_hidden_layers);
  i64("num_attention_heads", c.num_attention_heads);
  i64("intermediate_size", c.intermediate_size);
  i64("max_position_embeddings", c.max_position_embeddings);
  i64("type_vocab_size", c.type_vocab_size);
  i64("pad_token_id", c.pad_token_id);
  i64("num_labels", c.num_labels);
  str("hidden_act", c.hidden_act);
  str("problem_type", c.problem_type);
  f64("hidden_dropout_prob", c.hidden_dropout_prob);
  f64("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  f64("layer_norm_eps", c.layer_norm_eps);
  f64("initializer_range", c.initializer_range);
  if (o.Has("classifier_dropout") && o.Get("classifier_dropout").IsNumber())
    c.classifier_dropout = o.Get("classifier_dropout").As<Napi::Number>().DoubleValue();
  flag("use_sdpa", c.use_sdpa);
  flag("gradient_checkpointing", c.gradient_checkpointing);
  i64("generator_hidden_size", c.generator_hidden_size);
  i64("generator_num_attention_heads", c.generator_num_attention_heads);
  i64("generator_intermediate_size", c.generator_intermediate_size);
  i64("generator_num_hidden_layers", c.generator_num_hidden_layers);
  return c;
}

// A batch field: a Tensor, or a TypedArray reshaped to `shape`.
torch::Tensor Field(const Napi::Object& o, const char* key, const std::vector<int64_t>& bt_shape, int64_t num_labels) {
  if (!o.Has(key)) return {};
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return {};
  torch::Tensor t;
  if (v.IsNumber()) {  // a tensor handle
    t = handles::From(v, key);
  } else if (v.IsTypedArray()) {
    auto arr = v.As<Napi::TypedArray>();
    int64_t n = arr.ElementLength(), B = bt_shape[0], T = bt_shape[1];
    std::vector<int64_t> shape;
    if (n == B * T) shape = {B, T};
    else if (n == B) shape = {B};
    else if (num_labels > 0 && n == B * num_labels) shape = {B, num_labels};
    else ThrowRange(std::string("Expected ") + std::to_string(B * T) + " or " + std::to_string(B) +
                    " elements for batch." + key + " but received " + std::to_string(n));
    at::ScalarType dt;
    switch (arr.TypedArrayType()) {
      case napi_bigint64_array: dt = at::kLong; break;
      case napi_int32_array: dt = at::kInt; break;
      case napi_float32_array: dt = at::kFloat; break;
      case napi_float64_array: dt = at::kDouble; break;
      case napi_uint8_array: dt = at::kByte; break;
      default: ThrowType(std::string("Expected a BigInt64Array, Int32Array, Float32Array or Tensor for batch.") + key);
    }
    t = TensorFromTypedArray(arr, shape, dt);
  } else {
    args::Bad("a Tensor or TypedArray", (std::string("batch.") + key).c_str(), v);
  }
  if (t.scalar_type() == at::kInt || t.scalar_type() == at::kByte) t = t.to(at::kLong);
  return t;
}

bert::Batch ParseBatch(const Napi::Value& v, int64_t num_labels) {
  if (!v.IsObject()) args::Bad("a batch object", "batch", v);
  auto o = v.As<Napi::Object>();
  std::vector<int64_t> shape;
  Napi::Value ids = o.Get("inputIds");
  if (ids.IsNumber()) {  // a tensor handle
    auto sizes = handles::From(ids, "batch.inputIds").sizes();
    if (sizes.size() != 2) ThrowRange("Expected a (batch, sequence) tensor for batch.inputIds but received shape " + c10::str(sizes));
    shape = {sizes[0], sizes[1]};
  } else {
    shape = ToIntList(o.Get("shape"), "batch.shape");
    if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1) ThrowRange("Expected [batch, sequence] for batch.shape");
  }
  bert::Batch b;
  b.input_ids = Field(o, "inputIds", shape, 0);
  if (!b.input_ids.defined()) ThrowType("Expected a Tensor or TypedArray for batch.inputIds but received undefined");
  if (b.input_ids.dim() != 2) ThrowRange("Expected " + std::to_string(shape[0] * shape[1]) + " elements for batch.inputIds");
  b.attention_mask = Field(o, "attentionMask", shape, 0);
  b.token_type_ids = Field(o, "tokenTypeIds", shape, 0);
  b.labels = Field(o, "labels", shape, num_labels);
  b.next_sentence_label = Field(o, "nextSentenceLabel", shape, 0);
  return b;
}

Napi::Object StateToJs(Napi::Env env, const std::vector<std::pair<std::string, torch::Tensor>>& items) {
  auto out = Napi::Object::New(env);
  for (const auto& [name, t] : items) out.Set(name, handles::Wrap(env, t.detach()));
  return out;
}

std::map<std::string, torch::Tensor> StateFromJs(const Napi::Value& v, const char* what) {
  if (!v.IsObject()) args::Bad("an object of Tensors", what, v);
  auto o = v.As<Napi::Object>();
  std::map<std::string, torch::Tensor> out;
  for (const auto& kv : o.GetPropertyNames().As<Napi::Array>()) {
    std::string key = static_cast<Napi::Value>(kv.second).As<Napi::String>().Utf8Value();
    out[key] = handles::From(o.Get(key), key.c_str());
  }
  return out;
}

Napi::Array Strings(Napi::Env env, const std::vector<std::string>& v) {
  auto a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(i, v[i]);
  return a;
}

// Base for model workers: holds the runner alive, checks dispose at start,
// releases the busy flag on the JS thread when done.
class ModelWorker : public PromiseWorker {
 public:
  ModelWorker(Napi::Env env, std::shared_ptr<RunnerHandle> h, bool grad = false)
      : PromiseWorker(env, grad), h_(std::move(h)) {}

 protected:
  BertRunner& R() {
    if (h_->disposed) throw CodedError("ERR_DISPOSED", "Model was disposed while the call was queued");
    return *h_->runner;
  }
  void Finish() override { h_->busy = false; }
  std::shared_ptr<RunnerHandle> h_;
};

class ForwardWorker : public ModelWorker {
 public:
  ForwardWorker(Napi::Env env, std::shared_ptr<RunnerHandle> h, bert::Batch b, bert::ForwardOptions o, bool grad)
      : ModelWorker(env, std::move(h), grad), batch_(std::move(b)), opts_(o) {}
  void Run() override { out_ = R().Forward(batch_, opts_); }
  Napi::Value Resolve(Napi::Env env) override {
    auto o = Napi::Object::New(env);
    o.Set("logits", handles::Wrap(env, out_.logits));
    if (out_.loss.defined()) o.Set("loss", handles::Wrap(env, out_.loss));
    if (out_.pooler_output.defined()) o.Set("poolerOutput", handles::Wrap(env, out_.pooler_output));
    if (out_.sentence_embedding.defined()) o.Set("sentenceEmbedding", handles::Wrap(env, out_.sentence_embedding));
    if (out_.seq_relationship_logits.defined())
      o.Set("seqRelationshipLogits", handles::Wrap(env, out_.seq_relationship_logits));
    auto list = [&](const std::vector<torch::Tensor>& v) {
      auto a = Napi::Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); i++) a.Set(i, handles::Wrap(env, v[i]));
      return a;
    };
    if (opts_.output_hidden_states) o.Set("hiddenStates", list(out_.hidden_states));
    if (opts_.output_attentions) o.Set("attentions", list(out_.attentions));
    return o;
  }

 private:
  bert::Batch batch_;
  bert::ForwardOptions opts_;
  bert::Output out_;
};

class StepWorker : public ModelWorker {
 public:
  enum Kind { kForwardBackward, kTrainStep, kOptimizerStep };
  // a: lossScale (forwardBackward) or maxGradNorm; flag: sync (forwardBackward)
  // or skipNonFinite (trainStep, optimizerStep).
  // loss (optimizerStep): the accumulated window's loss, when the caller knows it.
  StepWorker(Napi::Env env, std::shared_ptr<RunnerHandle> h, Kind k, bert::Batch b, double a, bool flag,
             std::optional<double> loss = std::nullopt)
      : ModelWorker(env, std::move(h), true), kind_(k), batch_(std::move(b)), arg_(a), flag_(flag), loss_(loss) {}
  void Run() override {
    auto& r = R();
    if (kind_ == kForwardBackward) res_.loss = r.ForwardBackward(batch_, arg_, flag_).item<double>();
    else if (kind_ == kTrainStep) res_ = r.TrainStep(batch_, arg_, flag_);
    else res_ = r.OptimizerStep(arg_, flag_, loss_);
  }
  Napi::Value Resolve(Napi::Env env) override {
    if (kind_ == kForwardBackward) return Napi::Number::New(env, res_.loss);
    auto o = Napi::Object::New(env);
    if (kind_ == kTrainStep) o.Set("loss", res_.loss);
    o.Set("gradNorm", res_.grad_norm);
    o.Set("lr", res_.lr);
    o.Set("skipped", res_.skipped);
    return o;
  }

 private:
  Kind kind_;
  bert::Batch batch_;
  double arg_;
  bool flag_;
  std::optional<double> loss_;
  StepResult res_;
};
}  // namespace

Napi::Function ModelWrap::Init(Napi::Env env) {
  return DefineClass(env, "Model", {
      InstanceMethod<&ModelWrap::ParameterNames>("parameterNames"),
      InstanceMethod<&ModelWrap::StateDict>("stateDict"),
      InstanceMethod<&ModelWrap::LoadStateDict>("loadStateDict"),
      InstanceMethod<&ModelWrap::Grads>("grads"),
      InstanceMethod<&ModelWrap::SetGrads>("setGrads"),
      InstanceMethod<&ModelWrap::SetTrainable>("setTrainable"),
      InstanceMethod<&ModelWrap::Trainable>("trainable"),
      InstanceMethod<&ModelWrap::Forward>("forward"),
      InstanceMethod<&ModelWrap::ForwardBackward>("forwardBackward"),
      InstanceMethod<&ModelWrap::TrainStep>("trainStep"),
      InstanceMethod<&ModelWrap::OptimizerStep>("optimizerStep"),
      InstanceMethod<&ModelWrap::ConfigureOptimizer>("configureOptimizer"),
      InstanceMethod<&ModelWrap::SetLearningRate>("setLearningRate"),
      InstanceMethod<&ModelWrap::OptimizerState>("optimizerState"),
      InstanceMethod<&ModelWrap::LoadOptimizerState>("loadOptimizerState"),
      InstanceMethod<&ModelWrap::ZeroGrad>("zeroGrad"),
      InstanceMethod<&ModelWrap::SetTraining>("setTraining"),
      InstanceMethod<&ModelWrap::SetAutocast>("setAutocast"),
      InstanceMethod<&ModelWrap::SetCudaGraphs>("setCudaGraphs"),
      InstanceMethod<&ModelWrap::SetObjective>("setObjective"),
      InstanceMethod<&ModelWrap::SetProcessGroup>("setProcessGroup"),
      InstanceMethod<&ModelWrap::BroadcastParameters>("broadcastParameters"),
      InstanceMethod<&ModelWrap::To>("to"),
      InstanceMethod<&ModelWrap::Describe>("describe"),
      InstanceMethod<&ModelWrap::Dispose>("dispose"),
  });
}

// new Model(config, architecture, seed)
ModelWrap::ModelWrap(Info info) : Napi::ObjectWrap<ModelWrap>(info) {
  Guard(info.Env(), [&] {
    if (!info[0].IsObject()) args::Bad("a config object", "config", info[0]);
    auto config = ParseConfig(info[0].As<Napi::Object>());
    auto task = bert::ParseTask(args::String(info, 1, "architecture"));
    int64_t seed = args::IntOr(info, 2, "seed", 42);
    handle_ = std::make_shared<RunnerHandle>();
    handle_->runner = std::make_unique<BertRunner>(config, task, static_cast<uint64_t>(seed));
    return 0;
  });
}

BertRunner& ModelWrap::Runner() {
  if (!handle_ || handle_->disposed) throw CodedError("ERR_DISPOSED", "Model was disposed");
  if (handle_->busy) throw CodedError("ERR_BUSY", "Model is busy with another call; await it first");
  return *handle_->runner;
}

Napi::Value ModelWrap::ParameterNames(Info info) {
  return Guard(info.Env(), [&] {
    std::vector<std::string> names;
    for (auto& [n, _] : Runner().NamedParameters()) names.push_back(n);
    return Strings(info.Env(), names);
  });
}

Napi::Value ModelWrap::StateDict(Info info) {
  return Guard(info.Env(), [&] { return StateToJs(info.Env(), Runner().NamedParameters()); });
}

Napi::Value ModelWrap::LoadStateDict(Info info) {
  return Guard(info.Env(), [&] {
    auto& r = Runner();
    auto rep = r.LoadState(StateFromJs(info[0], "state"));
    auto o = Napi::Object::New(info.Env());
    o.Set("missing", Strings(info.Env(), rep.missing));
    o.Set("unexpected", Strings(info.Env(), rep.unexpected));
    o.Set("mismatched", Strings(info.Env(), rep.mismatched));
    return o;
  });
}

// setTrainable(names: string[], on: boolean)
Napi::Value ModelWrap::SetTrainable(Info info) {
  return Guard(info.Env(), [&] {
    if (!info[0].IsArray()) args::Bad("an array of parameter names", "names", info[0]);
    if (!info[1].IsBoolean()) args::Bad("a boolean", "on", info[1]);
    auto a = info[0].As<Napi::Array>();
    std::vector<std::string> names;
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsString()) args::Bad("an array of parameter names", "names", info[0]);
      names.push_back(v.As<Napi::String>().Utf8Value());
    }
    Runner().SetTrainable(names, info[1].As<Napi::Boolean>().Value());
    return info.Env().Undefined();
  });
}

// The names of the parameters that require grad.
Napi::Value ModelWrap::Trainable(Info info) {
  return Guard(info.Env(), [&] {
    std::vector<std::string> names;
    for (auto& [n, p] : Runner().NamedParameters())
      if (p.requires_grad()) names.push_back(n);
    return Strings(info.Env(), names);
  });
}

Napi::Value ModelWrap::Grads(Info info) {
  return Guard(info.Env(), [&] {
    std::vector<std::pair<std::string, torch::Tensor>> g;
    for (auto& [n, p] : Runner().NamedParameters())
      if (p.grad().defined()) g.emplace_back(n, p.grad());
    return StateToJs(info.Env(), g);
  });
}

// Sets .grad of the named parameters to copies of the given tensors (tests
// of the optimizer alone, gradients computed elsewhere).
Napi::Value ModelWrap::SetGrads(Info info) {
  return Guard(info.Env(), [&] {
    Runner().SetGrads(StateFromJs(info[0], "grads"));
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::Forward(Info info) {
  return Guard(info.Env(), [&] {
    auto& r = Runner();
    auto batch = ParseBatch(info[0], r.config().num_labels);
    bert::ForwardOptions o;
    bool grad = false;
    if (info[1].IsObject()) {
      auto opts = info[1].As<Napi::Object>();
      o.output_hidden_states = opts.Get("outputHiddenStates").ToBoolean();
      o.output_attentions = opts.Get("outputAttentions").ToBoolean();
      grad = opts.Get("grad").ToBoolean();
      if (opts.Get("pooling").IsString()) o.pooling = embedding::ParsePooling(opts.Get("pooling").As<Napi::String>().Utf8Value());
      o.normalize = opts.Get("normalize").ToBoolean();
      o.skip_padding = opts.Get("skipPadding").ToBoolean();
    }
    handle_->busy = true;
    return (new ForwardWorker(info.Env(), handle_, std::move(batch), o, grad))->Start();
  });
}

Napi::Value ModelWrap::ForwardBackward(Info info) {
  return Guard(info.Env(), [&] {
    auto& r = Runner();
    auto batch = ParseBatch(info[0], r.config().num_labels);
    double scale = args::NumberOr(info, 1, "lossScale", 1.0);
    bool sync = args::BoolOr(info, 2, "sync", true);
    handle_->busy = true;
    return (new StepWorker(info.Env(), handle_, StepWorker::kForwardBackward, std::move(batch), scale, sync))->Start();
  });
}

Napi::Value ModelWrap::TrainStep(Info info) {
  return Guard(info.Env(), [&] {
    auto& r = Runner();
    if (!r.optimizer()) throw CodedError("ERR_NO_OPTIMIZER", "configureOptimizer() must be called before trainStep()");
    auto batch = ParseBatch(info[0], r.config().num_labels);
    double max_norm = args::NumberOr(info, 1, "maxGradNorm", 0.0);
    bool skip = args::BoolOr(info, 2, "skipNonFinite", false);
    handle_->busy = true;
    return (new StepWorker(info.Env(), handle_, StepWorker::kTrainStep, std::move(batch), max_norm, skip))->Start();
  });
}

Napi::Value ModelWrap::OptimizerStep(Info info) {
  return Guard(info.Env(), [&] {
    auto& r = Runner();
    if (!r.optimizer()) throw CodedError("ERR_NO_OPTIMIZER", "configureOptimizer() must be called before optimizerStep()");
    double max_norm = args::NumberOr(info, 0, "maxGradNorm", 0.0);
    bool skip = args::BoolOr(info, 1, "skipNonFinite", false);
    std::optional<double> loss;
    if (!info[2].IsUndefined()) loss = args::Number(info, 2, "loss");
    handle_->busy = true;
    return (new StepWorker(info.Env(), handle_, StepWorker::kOptimizerStep, {}, max_norm, skip, loss))->Start();
  });
}

Napi::Value ModelWrap::ConfigureOptimizer(Info info) {
  return Guard(info.Env(), [&] {
    auto& r = Runner();
    if (!info[0].IsObject()) args::Bad("an options object", "options", info[0]);
    auto o = info[0].As<Napi::Object>();
    auto num = [&](const char* k, double d) { return o.Get(k).IsNumber() ? o.Get(k).As<Napi::Number>().DoubleValue() : d; };
    auto str = [&](const char* k, const char* d) { return o.Get(k).IsString() ? o.Get(k).As<Napi::String>().Utf8Value() : std::string(d); };
    optim::AdamWOptions a;
    a.lr = num("lr", a.lr);
    a.beta1 = num("beta1", a.beta1);
    a.beta2 = num("beta2", a.beta2);
    a.eps = num("eps", a.eps);
    a.weight_decay = num("weightDecay", a.weight_decay);
    a.impl = str("impl", "auto");
    optim::ScheduleOptions s;
    s.kind = str("schedule", "constant");
    s.warmup_steps = static_cast<int64_t>(num("warmupSteps", 0));
    s.total_steps = static_cast<int64_t>(num("totalSteps", 0));
    r.ConfigureOptimizer(a, s, o.Get("decayAll").ToBoolean());
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::OptimizerState(Info info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    auto* opt = Runner().optimizer();
    if (!opt) return info.Env().Null();
    Napi::Env env = info.Env();
    auto o = Napi::Object::New(env);
    o.Set("step", static_cast<double>(opt->step()));
    auto m = Napi::Object::New(env), v = Napi::Object::New(env);
    for (auto& p : opt->params()) {
      if (!p.exp_avg.defined()) continue;
      m.Set(p.name, handles::Wrap(env, p.exp_avg));
      v.Set(p.name, handles::Wrap(env, p.exp_avg_sq));
    }
    o.Set("expAvg", m);
    o.Set("expAvgSq", v);
    return o;
  });
}

// setLearningRate(lr): the base lr of the running optimizer; moments, step
// count and schedule are kept (the schedule's factor still multiplies it). The
// captured CUDA-graph step reads the lr at each replay, so it stays valid.
Napi::Value ModelWrap::SetLearningRate(Info info) {
  return Guard(info.Env(), [&] {
    auto* opt = Runner().optimizer();
    if (!opt) throw CodedError("ERR_NO_OPTIMIZER", "configureOptimizer() must be called before setLearningRate()");
    if (!info[0].IsNumber()) args::Bad("a number", "lr", info[0]);
    double lr = info[0].As<Napi::Number>().DoubleValue();
    if (!std::isfinite(lr) || lr < 0) ThrowRange("Expected a finite number >= 0 for lr but received " + std::to_string(lr));
    auto o = opt->options();
    o.lr = lr;
    opt->set_options(o);
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::LoadOptimizerState(Info info) {
  return Guard(info.Env(), [&] {
    auto* opt = Runner().optimizer();
    if (!opt) throw CodedError("ERR_NO_OPTIMIZER", "configureOptimizer() must be called before loadOptimizerState()");
    auto o = info[0].As<Napi::Object>();
    int64_t step = o.Get("step").As<Napi::Number>().Int64Value();
    auto m = StateFromJs(o.Get("expAvg"), "state.expAvg");
    auto v = StateFromJs(o.Get("expAvgSq"), "state.expAvgSq");
    torch::NoGradGuard ng;
    for (auto& p : opt->params()) {
      auto im = m.find(p.name), iv = v.find(p.name);
      if (im == m.end() || iv == v.end()) continue;
      TORCH_CHECK_VALUE(im->second.sizes() == p.param.sizes() && iv->second.sizes() == p.param.sizes(),
                        "optimizer state for ", p.name, " has shape ", im->second.sizes(), ", parameter has ", p.param.sizes());
      p.exp_avg = im->second.to(p.param.options()).clone();
      p.exp_avg_sq = iv->second.to(p.param.options()).clone();
    }
    opt->set_step(step);
    Runner().DropCapturedSteps();
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::ZeroGrad(Info info) {
  return Guard(info.Env(), [&] {
    Runner().ZeroGrad();
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::SetTraining(Info info) {
  return Guard(info.Env(), [&] {
    Runner().SetTraining(args::BoolOr(info, 0, "training", true));
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::SetAutocast(Info info) {
  return Guard(info.Env(), [&] {
    auto& r = Runner();
    if (info[0].IsNull() || info[0].IsUndefined()) {
      r.SetAutocast(std::nullopt);
    } else {
      auto dt = ParseDtype(args::String(info, 0, "dtype"));
      if (dt != at::kBFloat16 && dt != at::kHalf)
        ThrowRange("Expected 'bfloat16', 'float16' or null for autocast but received '" + DtypeName(dt) + "'");
      r.SetAutocast(dt);
    }
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::SetCudaGraphs(Info info) {
  return Guard(info.Env(), [&] {
    Runner().SetCudaGraphs(args::BoolOr(info, 0, "on", true));
    return info.Env().Undefined();
  });
}

// setObjective({ pooling, scale, similarity: 'cosine' | 'dot' } | null)
Napi::Value ModelWrap::SetObjective(Info info) {
  return Guard(info.Env(), [&] {
    auto& r = Runner();
    if (info[0].IsNull() || info[0].IsUndefined()) {
      r.SetObjective(std::nullopt);
      return info.Env().Undefined();
    }
    if (!info[0].IsObject()) args::Bad("an objective object or null", "objective", info[0]);
    auto o = info[0].As<Napi::Object>();
    embedding::Objective obj;
    if (o.Get("pooling").IsString()) obj.pooling = embedding::ParsePooling(o.Get("pooling").As<Napi::String>().Utf8Value());
    if (o.Get("scale").IsNumber()) obj.scale = o.Get("scale").As<Napi::Number>().DoubleValue();
    if (o.Get("similarity").IsString()) {
      auto sim = o.Get("similarity").As<Napi::String>().Utf8Value();
      if (sim != "cosine" && sim != "dot") ThrowRange("Expected 'cosine' or 'dot' for objective.similarity but received '" + sim + "'");
      obj.cosine = sim == "cosine";
    }
    r.SetObjective(obj);
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::SetProcessGroup(Info info) {
  return Guard(info.Env(), [&] {
    auto& r = Runner();
    if (info[0].IsNull() || info[0].IsUndefined()) {
      r.SetProcessGroup(nullptr, 0);
    } else {
      int64_t bucket = args::IntOr(info, 1, "bucketBytes", 25 << 20);
      if (bucket < 1) ThrowRange("Expected a positive integer for bucketBytes but received " + std::to_string(bucket));
      r.SetProcessGroup(ProcessGroupWrap::From(info[0]), bucket);
    }
    return info.Env().Undefined();
  });
}

namespace {
class BroadcastWorker : public ModelWorker {
 public:
  BroadcastWorker(Napi::Env env, std::shared_ptr<RunnerHandle> h, int src) : ModelWorker(env, std::move(h)), src_(src) {}
  void Run() override { R().BroadcastParameters(src_); }

 private:
  int src_;
};
}  // namespace

Napi::Value ModelWrap::BroadcastParameters(Info info) {
  return Guard(info.Env(), [&] {
    Runner();
    int src = args::Int32Or(info, 0, "src", 0);
    handle_->busy = true;
    return (new BroadcastWorker(info.Env(), handle_, src))->Start();
  });
}

Napi::Value ModelWrap::To(Info info) {
  return Guard(info.Env(), [&] {
    auto& r = Runner();
    auto dev = ParseDevice(args::String(info, 0, "device"));
    std::optional<torch::ScalarType> dt;
    if (!info[1].IsUndefined()) dt = ParseDtype(args::String(info, 1, "dtype"));
    r.To(dev, dt);
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::Describe(Info info) {
  return Guard(info.Env(), [&] {
    auto& r = Runner();
    auto o = Napi::Object::New(info.Env());
    int64_t n = 0;
    for (auto& [_, p] : r.NamedParameters()) n += p.numel();
    o.Set("numParameters", static_cast<double>(n));
    o.Set("device", DeviceName(r.device()));
    o.Set("training", r.training());
    o.Set("optimizerStep", r.optimizer() ? static_cast<double>(r.optimizer()->step()) : 0.0);
    o.Set("lr", r.optimizer() ? r.optimizer()->CurrentLr() : 0.0);
    o.Set("cudaGraphs", r.cuda_graphs());
    o.Set("graphReplays", static_cast<double>(r.graph_replays()));
    if (auto st = r.ReducerStats()) {
      auto g = Napi::Object::New(info.Env());
      g.Set("buckets", static_cast<double>(st->buckets));
      g.Set("reductions", static_cast<double>(st->reductions));
      g.Set("launchedInBackward", static_cast<double>(st->launched_in_backward));
      o.Set("gradReducer", g);
    }
    return o;
  });
}

Napi::Value ModelWrap::Dispose(Info info) {
  if (handle_ && !handle_->disposed) {
    handle_->disposed = true;
    // A running worker still holds handle_; the runner is freed with the last holder.
    if (!handle_->busy) handle_->runner.reset();
  }
  return info.Env().Undefined();
}

}  // namespace bt
