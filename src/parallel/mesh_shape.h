// The shape of a device mesh: TP x EP x DP devices, and where one rank sits
// in it. Ranks are laid out with TP fastest, then EP, then DP, so a TP group
// (the devices that split one layer's heads) holds neighbouring ranks.
#pragma once

#include <string>

#include "core/status.h"

namespace dsv32 {

struct MeshCoord {
  int tp = 0;
  int ep = 0;
  int dp = 0;
  bool operator==(const MeshCoord&) const = default;
};

struct MeshShape {
  int tp = 1;
  int ep = 1;
  int dp = 1;

  int size() const { return tp * ep * dp; }
  MeshCoord CoordOf(int rank) const;
  int RankOf(MeshCoord c) const { return c.tp + tp * (c.ep + ep * c.dp); }
  // Attention runs data-parallel over both the EP and DP axes: every
  // (ep, dp) pair is one attention replica that owns its own sequences.
  int attention_replicas() const { return ep * dp; }
  int AttentionReplicaOf(MeshCoord c) const { return c.ep + ep * c.dp; }
  // "tp=2,ep=4,dp=1".
  std::string ToString() const;
  bool operator==(const MeshShape&) const = default;
};

// The largest mesh accepted; a bound that keeps a typo from spawning
// thousands of simulated devices.
inline constexpr int kMaxMeshDevices = 4096;

// Parses "tp=T,ep=E,dp=D". Every key is optional (default 1), none may repeat,
// values are positive integers.
Result<MeshShape> ParseMeshShape(const std::string& text);

}  // namespace dsv32
