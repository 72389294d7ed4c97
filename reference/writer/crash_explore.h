// Crash states of a recorded workload, flush interval by flush interval
// (testonly; QX.WRITE.order_*). A disk may make the writes issued since
// the last completed flush durable in any order, and may be cut while a
// write is transferred; only a flush orders writes. So a crash inside the
// interval [start, end) between two flushes leaves: every event before
// `start`, any subset of the interval's writes, and possibly a torn prefix
// of one more of them. ExploreCrashes walks these states for EVERY
// interval of a CrashStore's log:
//   - intervals of at most `exhaustive_max` writes: every non-empty subset;
//   - longer intervals: every in-order prefix (the classic cut), every
//     single write alone, every "all but one" (a late barrier-protected
//     write such as a header switch landing without one earlier write),
//     every prefix plus the interval's last write, and `random_subsets`
//     seeded random subsets; when an interval has more than
//     `max_positions` writes, these positions are sampled (the first and
//     last 8 (fewer when max_positions < 32) and evenly spaced ones);
//   - torn writes: for each (sampled) write, prefixes ending at the file's
//     sector boundaries inside it (512 B: a sector is written whole or not
//     at all) and, for writes that span sectors, at odd byte offsets too;
//     each with the writes before it in the interval landed, with nothing
//     else of the interval landed, and with all the rest landed.
// The empty subset of an interval equals the full previous one, so it is
// judged once (the state before the first write). Judging stops at the
// first complaint. QCOW2REF_CRASH_FULL=1 widens all of this (a long
// campaign, docs/crash_safety.md).
#ifndef QCOW2REF_REFERENCE_WRITER_CRASH_EXPLORE_H_
#define QCOW2REF_REFERENCE_WRITER_CRASH_EXPLORE_H_

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "reference/io/crash_store.h"

namespace qcow2ref {
namespace writer_test {

struct CrashPlan {
  size_t exhaustive_max = 6;
  size_t random_subsets = 16;
  size_t max_positions = 64;
  bool torn = true;
  // Odd-byte tears too. Off for encrypted images: a tear inside a 512-byte
  // encryption sector leaves that whole sector undecryptable in every
  // implementation (the cipher works on sectors), so only sector-granular
  // tears are judged there.
  bool byte_tears = true;
  // Tear rewrites of the header cluster (writes at offset 0 longer than a
  // sector) too. Off where the header extension list spans sectors: QEMU
  // (qcow2_update_header) and this writer rewrite the header cluster in one
  // write, qcow2 has a single header, and no write order keeps a list torn
  // between two sectors valid (docs/crash_safety.md).
  bool tear_header_cluster = true;
  uint64_t seed = 0x15c4a5;  // Fixed: failures replay.
};

struct CrashCoverage {
  size_t events = 0;
  size_t intervals = 0;   // Flush intervals with at least one write.
  size_t exhaustive = 0;  // Of those, explored with every subset.
  size_t sampled = 0;     // Of those, with sampled positions.
  size_t longest = 0;     // Writes in the longest interval.
  size_t states = 0;      // Images judged.
  size_t torn = 0;        // Of those, with a torn write.
  std::string ToString() const {
    return std::to_string(events) + " events, " + std::to_string(intervals) +
           " intervals (" + std::to_string(exhaustive) + " exhaustive, " +
           std::to_string(sampled) + " sampled, longest " +
           std::to_string(longest) + " writes), " + std::to_string(states) +
           " crash states (" + std::to_string(torn) + " torn)";
  }
};

// One crash state: events [0, start) landed in order; of the interval
// [start, end), the writes `landed` and the first `torn_bytes` bytes of
// write `torn` (torn == end: none).
struct CrashPoint {
  size_t start = 0, end = 0;
  std::vector<size_t> landed;
  size_t torn = 0, torn_bytes = 0;
  // One past the last event that (partly) landed.
  size_t reach() const {
    size_t r = start;
    for (size_t i : landed) r = std::max(r, i + 1);
    if (torn < end) r = std::max(r, torn + 1);
    return r;
  }
  std::string Describe() const {
    std::string s = "interval [" + std::to_string(start) + ", " +
                    std::to_string(end) + ") landed {";
    for (size_t k = 0; k < landed.size();) {
      size_t m = k;  // A run of consecutive indexes prints as a range.
      while (m + 1 < landed.size() && landed[m + 1] == landed[m] + 1) ++m;
      s += " " + std::to_string(landed[k]);
      if (m > k) s += "-" + std::to_string(landed[m]);
      k = m + 1;
    }
    s += " }";
    if (torn < end) {
      s += " torn " + std::to_string(torn) + " after " +
           std::to_string(torn_bytes) + " bytes";
    }
    return s;
  }
};

// Returns "" or the judge's first complaint (with the state described).
using CrashJudge = std::function<std::string(const std::vector<uint8_t>& bytes,
                                             const CrashPoint& point)>;

namespace crash_detail {

// Where to tear a write of `length` bytes at file offset `offset`.
inline std::vector<size_t> TearPoints(uint64_t offset, size_t length,
                                      bool byte_tears) {
  std::set<size_t> at;
  const uint64_t first = (offset / 512 + 1) * 512;  // First sector boundary.
  const uint64_t end = offset + length;
  if (first < end) {
    at.insert(first - offset);
    const uint64_t last = (end - 1) / 512 * 512;
    at.insert(last - offset);
    at.insert((first + (last - first) / 1024 * 512) - offset);
    // Odd bytes: only where the write spans sectors (a write inside one
    // sector is atomic, as QEMU and every disk format assume).
    for (size_t k : {size_t{1}, length / 2 + 1, length - 1}) {
      if (byte_tears && k > 0 && k < length) at.insert(k);
    }
  }
  at.erase(0);
  return {at.begin(), at.end()};
}

inline std::vector<size_t> Positions(size_t n, size_t max) {
  std::vector<size_t> p;
  if (n <= max) {
    for (size_t i = 0; i < n; ++i) p.push_back(i);
    return p;
  }
  std::set<size_t> s;
  const size_t ends = std::min<size_t>(8, max / 4);
  for (size_t i = 0; i < ends; ++i) {
    s.insert(i);
    s.insert(n - 1 - i);
  }
  const size_t spaced = max > 2 * ends ? max - 2 * ends : 1;
  for (size_t k = 0; k < spaced; ++k) s.insert(k * n / spaced);
  return {s.begin(), s.end()};
}

}  // namespace crash_detail

inline std::string ExploreCrashes(const CrashStore& log, const CrashPlan& given,
                                  const CrashJudge& judge,
                                  CrashCoverage* coverage) {
  // QCOW2REF_CRASH_FULL=1 (a long campaign, docs/crash_safety.md): every
  // position of every long interval, all subsets up to 10 writes, 8 times
  // the random subsets.
  CrashPlan plan = given;
  const char* full = std::getenv("QCOW2REF_CRASH_FULL");
  if (full && std::string(full) == "1") {
    plan.exhaustive_max = std::max<size_t>(plan.exhaustive_max, 10);
    plan.max_positions = SIZE_MAX;
    plan.random_subsets *= 8;
  }
  const auto& ev = log.events();
  CrashCoverage cov;
  cov.events = ev.size();
  std::string problem;
  auto try_point = [&](const CrashPoint& p) {
    if (!problem.empty()) return;
    const std::vector<uint8_t> bytes =
        p.torn < p.end ? log.ReplayTorn(p.start, p.landed, p.torn, p.torn_bytes)
                       : log.Replay(p.start, p.landed);
    ++cov.states;
    if (p.torn < p.end) ++cov.torn;
    const std::string why = judge(bytes, p);
    if (!why.empty()) problem = p.Describe() + ": " + why;
  };
  // The state before anything.
  {
    CrashPoint p;
    try_point(p);
  }
  std::mt19937_64 rng(plan.seed);
  size_t start = 0;
  while (start < ev.size() && problem.empty()) {
    if (ev[start].flush) {
      ++start;
      continue;
    }
    size_t end = start;
    while (end < ev.size() && !ev[end].flush) ++end;
    const size_t n = end - start;
    ++cov.intervals;
    cov.longest = std::max(cov.longest, n);
    auto point = [&](std::vector<size_t> landed) {
      CrashPoint p;
      p.start = start;
      p.end = end;
      p.torn = end;
      p.landed = std::move(landed);
      return p;
    };
    if (n <= plan.exhaustive_max) {
      ++cov.exhaustive;
      for (uint64_t mask = 1; mask < (uint64_t{1} << n); ++mask) {
        std::vector<size_t> landed;
        for (size_t i = 0; i < n; ++i) {
          if (mask >> i & 1) landed.push_back(start + i);
        }
        try_point(point(std::move(landed)));
      }
    } else {
      const std::vector<size_t> pos =
          crash_detail::Positions(n, plan.max_positions);
      if (pos.size() < n) ++cov.sampled;
      std::set<std::vector<size_t>> seen;
      auto once = [&](std::vector<size_t> landed) {
        if (seen.insert(landed).second) try_point(point(std::move(landed)));
      };
      for (size_t k : pos) {
        std::vector<size_t> prefix, alone = {start + k}, but_one;
        for (size_t i = 0; i <= k; ++i) prefix.push_back(start + i);
        for (size_t i = 0; i < n; ++i) {
          if (i != k) but_one.push_back(start + i);
        }
        std::vector<size_t> prefix_last = prefix;
        if (k + 1 < n) prefix_last.push_back(end - 1);
        once(prefix);
        once(alone);
        once(but_one);
        once(prefix_last);
      }
      std::bernoulli_distribution coin(0.5);
      for (size_t r = 0; r < plan.random_subsets; ++r) {
        std::vector<size_t> landed;
        for (size_t i = 0; i < n; ++i) {
          if (coin(rng)) landed.push_back(start + i);
        }
        once(landed);
      }
    }
    if (plan.torn) {
      for (size_t k : crash_detail::Positions(n, plan.max_positions)) {
        const size_t j = start + k;
        if (!plan.tear_header_cluster && ev[j].offset == 0 &&
            ev[j].data.size() > 512) {
          continue;
        }
        for (size_t bytes : crash_detail::TearPoints(
                 ev[j].offset, ev[j].data.size(), plan.byte_tears)) {
          std::vector<size_t> before, rest;
          for (size_t i = start; i < end; ++i) {
            if (i < j) before.push_back(i);
            if (i != j) rest.push_back(i);
          }
          CrashPoint p = point(before);
          p.torn = j;
          p.torn_bytes = bytes;
          try_point(p);
          if (j > start) {
            p.landed.clear();
            try_point(p);
          }
          if (j + 1 < end) {
            p.landed = rest;
            try_point(p);
          }
        }
      }
    }
    start = end;
  }
  if (coverage) *coverage = cov;
  return problem;
}

}  // namespace writer_test
}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_WRITER_CRASH_EXPLORE_H_
