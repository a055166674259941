// dsv32 plan: per-device memory and an estimate of decode throughput for a
// TP x EP x DP mesh, from a config.json alone.
#include <cstdio>
#include <cstdlib>

#include "args.h"
#include "command.h"
#include "core/config.h"
#include "parallel/planner.h"

namespace dsv32::cli {
namespace {

constexpr const char* kUsage =
    "usage: dsv32 plan --config config.json --mesh tp=T,ep=E,dp=D [options]\n"
    "  --weights fp8|bf16|int4      weight format (default fp8)\n"
    "  --kv fp8|bf16                KV cache layout (default fp8 = fp8_ds_mla)\n"
    "  --context N                  tokens per sequence (default 131072)\n"
    "  --concurrency N              sequences decoded together (default 1)\n"
    "  --prefill-chunk N            most tokens in one forward step (default 8192)\n"
    "  --device h100|h200|b200|mi300x|mi325x\n"
    "  --device-memory-gb G, --hbm-gbps B, --link-gbps L   custom device or overrides\n"
    "  --memory-utilization F       fraction of memory usable (default 0.9)\n"
    "  --no-split-experts-over-tp   keep routed experts whole on every TP rank\n"
    "  --no-split-indexer-over-tp   keep the whole indexer on every TP rank\n"
    "  --mtp                        also load the MTP layers\n"
    "  --json                       machine-readable output\n";

// A positive decimal, or an error naming the option.
bool Number(Args& a, const char* name, double* out, std::string* error) {
  auto v = a.Get(name);
  if (!v) return true;
  char* end = nullptr;
  const double d = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || !(d > 0)) {
    *error = std::string("option '--") + name + "' must be a positive number, got '" + *v + "'";
    return false;
  }
  *out = d;
  return true;
}

int RunPlan(int argc, char** argv) {
  Args a(argc, argv,
         {"config", "mesh", "weights", "kv", "context", "concurrency", "prefill-chunk", "device",
          "device-memory-gb", "hbm-gbps", "link-gbps", "memory-utilization"},
         {"json", "mtp", "no-split-experts-over-tp", "no-split-indexer-over-tp", "help"});
  if (a.Has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string config_path = a.Require("config");
  const std::string mesh_text = a.Require("mesh");
  PlanRequest r;
  r.context = a.Int("context", r.context);
  r.concurrency = a.Int("concurrency", r.concurrency);
  r.prefill_chunk = a.Int("prefill-chunk", r.prefill_chunk);
  if (!a.ok()) return Fail("plan", a.error() + "\n" + kUsage);

  auto config = LoadModelConfig(config_path);
  if (!config.ok()) return Fail("plan", config.status().message());
  r.config = *config;
  auto mesh = ParseMeshShape(mesh_text);
  if (!mesh.ok()) return Fail("plan", mesh.status().message());
  r.mesh = *mesh;
  auto weights = ParseWeightFormat(a.Get("weights").value_or("fp8"));
  if (!weights.ok()) return Fail("plan", weights.status().message());
  r.weights = *weights;
  auto kv = ParseKvCacheFormat(a.Get("kv").value_or("fp8"));
  if (!kv.ok()) return Fail("plan", kv.status().message());
  r.kv = *kv;
  r.mtp = a.Has("mtp");
  r.sharding.split_experts_over_tp = !a.Has("no-split-experts-over-tp");
  r.sharding.split_indexer_over_tp = !a.Has("no-split-indexer-over-tp");

  if (auto name = a.Get("device")) {
    auto preset = FindDevicePreset(*name);
    if (!preset.ok()) return Fail("plan", preset.status().message());
    r.device = *preset;
  } else {
    r.device.name = "custom";
    if (!a.Has("device-memory-gb") || !a.Has("hbm-gbps"))
      return Fail("plan",
                  "give --device, or --device-memory-gb and --hbm-gbps (and --link-gbps for more "
                  "than one device)");
  }
  std::string error;
  if (!Number(a, "device-memory-gb", &r.device.memory_gb, &error) ||
      !Number(a, "hbm-gbps", &r.device.hbm_gbps, &error) ||
      !Number(a, "link-gbps", &r.device.link_gbps, &error) ||
      !Number(a, "memory-utilization", &r.memory_utilization, &error))
    return Fail("plan", error);

  auto plan = MakePlan(r);
  if (!plan.ok()) return Fail("plan", plan.status().message());
  const std::string out = a.Has("json") ? PlanToJson(*plan) : PlanToText(*plan);
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace

DSV32_CLI_COMMAND("plan", "per-device memory and decode throughput of a TP x EP x DP mesh",
                  RunPlan);

}  // namespace dsv32::cli
