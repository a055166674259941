// Checks of every collective against a serial computation, written once over
// the Communicator interface so the in-process and MPI backends run the same
// cases. Each function runs on one rank and returns a failure description,
// empty when the rank saw what the serial computation predicts.
#pragma once

#include <string>

#include "parallel/communicator.h"

namespace dsv32::collective_cases {

std::string AllReduceSum(Communicator& c);
std::string LargeAllReduceSum(Communicator& c);
std::string AllGather(Communicator& c);
std::string ReduceScatterSum(Communicator& c);
std::string AllToAllV(Communicator& c);
std::string Broadcast(Communicator& c);
std::string Barrier(Communicator& c);
// Splits into even and odd ranks (keys reversed) and runs an all-reduce and
// an all-gather in each half.
std::string SplitEvenOdd(Communicator& c);
// Mismatched sizes between ranks come back as an error on every rank.
std::string MismatchIsAnError(Communicator& c);

}  // namespace dsv32::collective_cases
