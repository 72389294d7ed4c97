#include "reference/check/layout_svg.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "reference/status/text_escape.h"

namespace qcow2ref {
namespace {

constexpr uint64_t kMaxCells = 4096;
constexpr int kColumns = 64;
constexpr int kCell = 12;

enum class State { kOk, kLeak, kViolation };

struct Cell {
  Owner owner = Owner::kFree;
  State state = State::kOk;
};

const char* Colour(Owner o) {
  switch (o) {
    case Owner::kFree:
      return "#f4f4f4";
    case Owner::kHeader:
      return "#1f3b73";
    case Owner::kL1:
      return "#3f72af";
    case Owner::kL2:
      return "#7fa7d9";
    case Owner::kRefcountTable:
      return "#6a4c93";
    case Owner::kRefcountBlock:
      return "#a98bd4";
    case Owner::kSnapshotTable:
      return "#b5651d";
    case Owner::kSnapshotL1:
      return "#e0a458";
    case Owner::kBitmapDirectory:
      return "#2a7f62";
    case Owner::kBitmapTable:
      return "#4fb286";
    case Owner::kBitmapData:
      return "#9ad1b8";
    case Owner::kLuks:
      return "#444444";
    case Owner::kData:
      return "#e8d44d";
    case Owner::kCompressed:
      return "#f2994a";
  }
  return "#ffffff";
}

// Per-cluster state from the findings (offsets name the cluster).
std::vector<Cell> Cells(const ClusterUsage& u, const CheckReport& r) {
  std::vector<Cell> cells(u.size());
  for (uint64_t i = 0; i < u.size(); ++i) {
    cells[i].owner = u.owner(i);
    if (u.overlapped(i)) cells[i].state = State::kViolation;
  }
  for (const auto& l : r.leaks) {
    if (l.cluster_index < cells.size() &&
        cells[l.cluster_index].state == State::kOk) {
      cells[l.cluster_index].state = State::kLeak;
    }
  }
  for (const Finding& f : r.findings) {
    if (f.severity != Severity::kCorruption || !f.offset) continue;
    const uint64_t i = *f.offset >> u.cluster_bits();
    if (i < cells.size()) cells[i].state = State::kViolation;
  }
  return cells;
}

}  // namespace

std::string RenderLayoutSvg(const ClusterUsage& u, const CheckReport& r,
                            const std::string& title) {
  const std::vector<Cell> cells = Cells(u, r);
  const uint64_t per_cell =
      std::max<uint64_t>(1, (cells.size() + kMaxCells - 1) / kMaxCells);
  const uint64_t n = (cells.size() + per_cell - 1) / per_cell;
  const int rows = static_cast<int>((n + kColumns - 1) / kColumns);
  const int legend_y = 40 + rows * kCell + 20;
  const int height = legend_y + 16 * 16;
  std::ostringstream s;
  // SPEC(QX.CLI.svg_well_formed): the title (the image path) is any bytes.
  s << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\""
    << kColumns * kCell + 260 << "\" height=\"" << height << "\">\n"
    << "<title>" << EscapeForXml(title) << "</title>\n"
    << "<text x=\"4\" y=\"16\" font-family=\"monospace\" font-size=\"12\">"
    << EscapeForXml(title) << ": " << cells.size() << " clusters of "
    << (uint64_t{1} << u.cluster_bits()) << " bytes"
    << (per_cell > 1 ? ", " + std::to_string(per_cell) + " per cell" : "")
    << "</text>\n";
  for (uint64_t c = 0; c < n; ++c) {
    // The most notable cluster of the run colours the cell.
    Cell cell;
    for (uint64_t i = c * per_cell;
         i < std::min<uint64_t>(cells.size(), (c + 1) * per_cell); ++i) {
      if (cells[i].state > cell.state ||
          (cell.owner == Owner::kFree && cells[i].owner != Owner::kFree)) {
        cell.owner = cells[i].owner;
        cell.state = std::max(cell.state, cells[i].state);
      }
    }
    const int x = static_cast<int>(c % kColumns) * kCell;
    const int y = 30 + static_cast<int>(c / kColumns) * kCell;
    s << "<rect x=\"" << x + 1 << "\" y=\"" << y + 1 << "\" width=\""
      << kCell - 2 << "\" height=\"" << kCell - 2 << "\" fill=\""
      << Colour(cell.owner) << "\"";
    if (cell.state == State::kViolation) {
      s << " stroke=\"#d00000\" stroke-width=\"2\"";
    } else if (cell.state == State::kLeak) {
      s << " stroke=\"#ff00ff\" stroke-width=\"2\" stroke-dasharray=\"2,1\"";
    }
    s << "><title>cluster " << c * per_cell << ": " << OwnerName(cell.owner)
      << (cell.state == State::kViolation ? " (violation)"
          : cell.state == State::kLeak    ? " (leaked)"
                                          : "")
      << "</title></rect>\n";
  }
  int ly = legend_y;
  for (int o = 0; o <= static_cast<int>(Owner::kCompressed); ++o) {
    s << "<rect x=\"4\" y=\"" << ly - 10
      << "\" width=\"10\" height=\"10\" fill=\""
      << Colour(static_cast<Owner>(o)) << "\"/><text x=\"20\" y=\"" << ly
      << "\" font-family=\"monospace\" font-size=\"11\">"
      << OwnerName(static_cast<Owner>(o)) << "</text>\n";
    ly += 16;
  }
  s << "<rect x=\"200\" y=\"" << legend_y - 10
    << "\" width=\"10\" height=\"10\" fill=\"#ffffff\" stroke=\"#d00000\" "
       "stroke-width=\"2\"/><text x=\"216\" y=\""
    << legend_y
    << "\" font-family=\"monospace\" font-size=\"11\">violation</text>\n"
    << "<rect x=\"200\" y=\"" << legend_y + 6
    << "\" width=\"10\" height=\"10\" fill=\"#ffffff\" stroke=\"#ff00ff\" "
       "stroke-width=\"2\" stroke-dasharray=\"2,1\"/><text x=\"216\" y=\""
    << legend_y + 16
    << "\" font-family=\"monospace\" font-size=\"11\">leaked</text>\n"
    << "</svg>\n";
  return s.str();
}

std::string RenderLayoutText(const ClusterUsage& u, const CheckReport& r) {
  const std::vector<Cell> cells = Cells(u, r);
  std::ostringstream s;
  uint64_t start = 0;
  for (uint64_t i = 1; i <= cells.size(); ++i) {
    if (i < cells.size() && cells[i].owner == cells[start].owner &&
        cells[i].state == cells[start].state) {
      continue;
    }
    const uint64_t cs = uint64_t{1} << u.cluster_bits();
    s << "0x" << std::hex << start * cs << "-0x" << i * cs - 1 << std::dec
      << "  clusters " << start << "-" << i - 1 << "  "
      << OwnerName(cells[start].owner)
      << (cells[start].state == State::kViolation ? "  VIOLATION"
          : cells[start].state == State::kLeak    ? "  LEAKED"
                                                  : "")
      << "\n";
    start = i;
  }
  return s.str();
}

}  // namespace qcow2ref
