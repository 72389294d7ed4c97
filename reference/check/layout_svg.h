// A picture of the host file: one cell per cluster, coloured by its owner,
// overlaps and clusters named by findings outlined in red.
#ifndef QCOW2REF_REFERENCE_CHECK_LAYOUT_SVG_H_
#define QCOW2REF_REFERENCE_CHECK_LAYOUT_SVG_H_

#include <string>

#include "reference/check/cluster_usage.h"
#include "reference/check/findings.h"

namespace qcow2ref {

// Self-contained SVG (no external assets). Leaked clusters are drawn as
// such; with many clusters, each cell stands for a run of clusters and takes
// the colour of the most notable one.
std::string RenderLayoutSvg(const ClusterUsage& usage,
                            const CheckReport& report,
                            const std::string& title);

// One line per run of clusters with the same owner and state.
std::string RenderLayoutText(const ClusterUsage& usage,
                             const CheckReport& report);

}  // namespace qcow2ref

#endif  // QCOW2REF_REFERENCE_CHECK_LAYOUT_SVG_H_
