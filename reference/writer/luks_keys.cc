#include "reference/writer/luks_keys.h"

#include <cstring>

#include "reference/crypto/luks_unlock.h"
#include "reference/image/image.h"
#include "reference/status/checked_math.h"
#include "reference/writer/luks_create.h"
#include "reference/writer/random_source.h"
#include "reference/writer/soundness.h"

namespace qcow2ref {
namespace {

struct Opened {
  LuksArea area;
  uint64_t offset = 0;  // FDE offset in the file
  int unlocked_slot = -1;
};

// Reads the LUKS area and unlocks it with `key`.
Result<Opened> OpenArea(ByteStore* store, const SecretBytes& key) {
  OpenOptions o;
  QCOW2REF_ASSIGN_OR_RETURN(
      auto img, Image::OpenSource(std::make_unique<BorrowedSource>(store), o));
  if (!img->luks() || !img->extensions().fde) {
    return UsageError("Q2.FDE.only_luks", "the image is not LUKS-encrypted");
  }
  // Key slots live in the LUKS area: nothing else may share its clusters.
  QCOW2REF_RETURN_IF_ERROR(ProveSoundForWriting(*store));
  Opened out;
  out.area.header = *img->luks();
  out.offset = img->extensions().fde->offset;
  out.area.bytes.resize(img->extensions().fde->length);
  QCOW2REF_RETURN_IF_ERROR(
      store->ReadAt(out.offset, out.area.bytes.data(), out.area.bytes.size()));
  QCOW2REF_ASSIGN_OR_RETURN(
      LuksUnlockResult u, UnlockLuks(out.area.header, *store, out.offset, key));
  out.area.master_key = std::move(u.master_key);
  out.unlocked_slot = u.slot;
  return out;
}

uint64_t SlotBytes(const LuksHeader& h) {
  return DivRoundUp(h.material_bytes(), kSectorSize) * kSectorSize;
}

// SPEC(QX.LUKS.key_order): key material first, then (after a barrier) the
// header that enables it; disabling writes the header first, then wipes.
Status WriteSlot(ByteStore* store, const Opened& o, int slot) {
  const LuksKeySlot& s = o.area.header.slots[slot];
  const uint64_t at = uint64_t{s.key_material_offset} * kSectorSize;
  QCOW2REF_RETURN_IF_ERROR(store->WriteAt(
      o.offset + at, o.area.bytes.data() + at, SlotBytes(o.area.header)));
  QCOW2REF_RETURN_IF_ERROR(store->Flush());
  const auto hdr = SerializeLuksHeader(o.area.header);
  QCOW2REF_RETURN_IF_ERROR(store->WriteAt(o.offset, hdr.data(), hdr.size()));
  return store->Flush();
}

Status DisableSlot(ByteStore* store, Opened* o, int slot) {
  LuksKeySlot& s = o->area.header.slots[slot];
  s.active = kLuksSlotDisabled;
  s.iterations = 0;
  std::memset(s.salt.data(), 0, s.salt.size());
  const auto hdr = SerializeLuksHeader(o->area.header);
  QCOW2REF_RETURN_IF_ERROR(store->WriteAt(o->offset, hdr.data(), hdr.size()));
  QCOW2REF_RETURN_IF_ERROR(store->Flush());
  std::vector<uint8_t> zeros(SlotBytes(o->area.header), 0);
  QCOW2REF_RETURN_IF_ERROR(
      store->WriteAt(o->offset + uint64_t{s.key_material_offset} * kSectorSize,
                     zeros.data(), zeros.size()));
  return store->Flush();
}

}  // namespace

Result<int> LuksAddKey(ByteStore* store, const SecretBytes& current,
                       const SecretBytes& added, const KeySlotOptions& opts) {
  QCOW2REF_ASSIGN_OR_RETURN(Opened o, OpenArea(store, current));
  int slot = -1;
  if (opts.slot) {
    if (*opts.slot < 0 || *opts.slot >= kLuksSlots) {
      return UsageError("key slot must be 0..7");
    }
    if (o.area.header.slots[*opts.slot].enabled()) {
      return UsageError("key slot " + std::to_string(*opts.slot) +
                        " is in use");
    }
    slot = *opts.slot;
  } else {
    for (int i = 0; i < kLuksSlots && slot < 0; ++i) {
      if (!o.area.header.slots[i].enabled()) slot = i;
    }
    if (slot < 0) return UsageError("all 8 key slots are in use");
  }
  uint32_t iterations = opts.iterations;
  if (iterations == 0) {
    const uint64_t rate =
        MeasurePbkdf2Rate(o.area.header.hash_spec, o.area.header.key_bytes);
    // A derived count fits what is left of the per-open budget
    // (QX.LIMIT.pbkdf2_open_budget); an explicit one is judged as given.
    const LuksHeader& h = o.area.header;
    const uint64_t spent = LuksOpenCost(h) + h.mk_digest_iter;
    const uint64_t left = kMaxPbkdf2IterationsPerOpen > spent
                              ? kMaxPbkdf2IterationsPerOpen - spent
                              : 0;
    iterations = static_cast<uint32_t>(std::min<uint64_t>(
        std::min<uint64_t>(kMaxPbkdf2Iterations, left),
        std::max<uint64_t>(1000, rate * opts.iter_time_ms / 1000)));
    iterations = std::max<uint32_t>(iterations, 1000);
  }
  QCOW2REF_RETURN_IF_ERROR(
      FillKeySlot(&o.area, slot, added, iterations, OsRandom()));
  QCOW2REF_RETURN_IF_ERROR(WriteSlot(store, o, slot));
  return slot;
}

Result<int> LuksRemoveKey(ByteStore* store, const SecretBytes& key,
                          std::optional<int> slot) {
  QCOW2REF_ASSIGN_OR_RETURN(Opened o, OpenArea(store, key));
  const int target = slot ? *slot : o.unlocked_slot;
  if (target < 0 || target >= kLuksSlots ||
      !o.area.header.slots[target].enabled()) {
    return UsageError("key slot " + std::to_string(target) + " is not in use");
  }
  int enabled = 0;
  for (const LuksKeySlot& s : o.area.header.slots) enabled += s.enabled();
  // SPEC(QX.LUKS.keep_last_slot)
  if (enabled <= 1) {
    return UsageError("QX.LUKS.keep_last_slot",
                      "refusing to remove the last active key slot: the data "
                      "would become unreadable");
  }
  QCOW2REF_RETURN_IF_ERROR(DisableSlot(store, &o, target));
  return target;
}

Result<int> LuksChangeKey(ByteStore* store, const SecretBytes& current,
                          const SecretBytes& replacement,
                          const KeySlotOptions& opts) {
  QCOW2REF_ASSIGN_OR_RETURN(Opened o, OpenArea(store, current));
  QCOW2REF_ASSIGN_OR_RETURN(int added,
                            LuksAddKey(store, current, replacement, opts));
  QCOW2REF_ASSIGN_OR_RETURN(Opened now, OpenArea(store, replacement));
  QCOW2REF_RETURN_IF_ERROR(DisableSlot(store, &now, o.unlocked_slot));
  return added;
}

}  // namespace qcow2ref
