// QCOW2_SPEC("<clause id>") inside a gtest body names a clause the test covers;
// //spec:trace_test reads these citations, and test.xml records them.
#ifndef QCOW2REF_REFERENCE_STATUS_SPEC_CITE_H_
#define QCOW2REF_REFERENCE_STATUS_SPEC_CITE_H_

#include <gtest/gtest.h>

#define QCOW2_SPEC(id) ::testing::Test::RecordProperty("spec", id)

#endif  // QCOW2REF_REFERENCE_STATUS_SPEC_CITE_H_
