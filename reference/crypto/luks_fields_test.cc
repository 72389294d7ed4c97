// The LUKS1 field tables against the layout derived by hand: the fixed
// fields back to back, eight 48-byte key slots after them, 592 bytes in
// all; the serializer puts each field where a hand-built header has it.
#include "reference/crypto/luks_fields.h"

#include <gtest/gtest.h>

#include <vector>

#include "reference/crypto/luks_header.h"
#include "reference/format/field_table_check.h"
#include "reference/format/test_bytes.h"
#include "reference/status/spec_cite.h"

namespace qcow2ref {
namespace {

using testing::CheckFieldTable;
using testing::PutBe;

TEST(LuksFieldsTest, FollowTheSpecLayout) {
  QCOW2_SPEC("L1.PHDR.layout");
  EXPECT_EQ(CheckFieldTable(kLuksFields), 208u);
  EXPECT_EQ(kLuksSlotsStart, 208u);
  EXPECT_EQ(CheckFieldTable(kLuksSlotFields), 48u);
  EXPECT_EQ(kLuksSlotSize, 48u);
  EXPECT_EQ(LuksSlotStart(kLuksSlots), kLuksHeaderSize);
  EXPECT_EQ(LuksField::kMkDigest.width, kLuksDigestSize);
  EXPECT_EQ(LuksField::kMkDigestSalt.width, kLuksSaltSize);
  EXPECT_EQ(LuksSlotField::kSalt.width, kLuksSaltSize);
}

TEST(LuksFieldsTest, SerializesWhereAHandBuiltHeaderHasItsFields) {
  QCOW2_SPEC("L1.PHDR.layout");
  LuksHeader h;
  h.cipher_name = "aes";
  h.cipher_mode = "xts-plain64";
  h.hash_spec = "sha256";
  h.payload_offset = 0x01020304;
  h.key_bytes = 0x05060708;
  h.mk_digest.fill(0xd1);
  h.mk_digest_salt.fill(0xd2);
  h.mk_digest_iter = 0x090a0b0c;
  h.uuid = "u";
  for (int i = 0; i < kLuksSlots; ++i) {
    h.slots[i].active = 0x100 + i;
    h.slots[i].iterations = 0x200 + i;
    h.slots[i].salt.fill(static_cast<uint8_t>(0x30 + i));
    h.slots[i].key_material_offset = 0x400 + i;
    h.slots[i].stripes = 0x500 + i;
  }
  std::vector<uint8_t> want(592, 0);
  const uint8_t magic[] = {'L', 'U', 'K', 'S', 0xBA, 0xBE};
  std::copy(magic, magic + 6, want.begin());
  PutBe(want, 6, 1, 2);
  want[8] = 'a', want[9] = 'e', want[10] = 's';
  const std::string mode = "xts-plain64";
  std::copy(mode.begin(), mode.end(), want.begin() + 40);
  const std::string hash = "sha256";
  std::copy(hash.begin(), hash.end(), want.begin() + 72);
  PutBe(want, 104, h.payload_offset, 4);
  PutBe(want, 108, h.key_bytes, 4);
  std::fill(want.begin() + 112, want.begin() + 132, 0xd1);
  std::fill(want.begin() + 132, want.begin() + 164, 0xd2);
  PutBe(want, 164, h.mk_digest_iter, 4);
  want[168] = 'u';
  for (int i = 0; i < kLuksSlots; ++i) {
    const size_t s = 208 + 48 * i;
    PutBe(want, s, 0x100 + i, 4);
    PutBe(want, s + 4, 0x200 + i, 4);
    std::fill(want.begin() + s + 8, want.begin() + s + 40, 0x30 + i);
    PutBe(want, s + 40, 0x400 + i, 4);
    PutBe(want, s + 44, 0x500 + i, 4);
  }
  EXPECT_EQ(SerializeLuksHeader(h), want);
}

}  // namespace
}  // namespace qcow2ref
