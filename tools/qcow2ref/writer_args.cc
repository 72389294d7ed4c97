#include "tools/qcow2ref/writer_args.h"

#include <unistd.h>

#include <cstdio>

#include "reference/image/references.h"
#include "reference/io/referenced_file.h"

namespace qcow2ref::cli {

std::set<std::string> CreateFlags() {
  return {"--extended-l2", "--lazy-refcounts", "--data-file-raw", "--force"};
}

std::set<std::string> CreateOptionNames() {
  return {"--size",
          "--version",
          "--cluster-size",
          "--refcount-bits",
          "--compression-type",
          "--backing",
          "--backing-format",
          "--data-file",
          "--encrypt",
          "--luks-cipher",
          "--luks-hash",
          "--luks-iter-time",
          "--luks-iterations",
          "--deterministic-seed",
          "--secret-file",
          "--secret-env"};
}

namespace {

Result<uint32_t> Log2Of(uint64_t v, const char* what) {
  if (v == 0 || (v & (v - 1)) != 0) {
    return UsageError(std::string(what) + " must be a power of two");
  }
  return static_cast<uint32_t>(__builtin_ctzll(v));
}

}  // namespace

Result<CreateOptions> ParseCreateOptions(const Args& args) {
  CreateOptions o;
  if (auto v = args.Get("--size")) {
    QCOW2REF_ASSIGN_OR_RETURN(o.size, ParseSize(*v, "--size"));
  }
  if (auto v = args.Get("--version")) {
    if (*v != "2" && *v != "3") return UsageError("--version must be 2 or 3");
    o.version = *v == "2" ? 2 : 3;
  }
  if (auto v = args.Get("--cluster-size")) {
    QCOW2REF_ASSIGN_OR_RETURN(uint64_t cs, ParseSize(*v, "--cluster-size"));
    QCOW2REF_ASSIGN_OR_RETURN(o.cluster_bits, Log2Of(cs, "--cluster-size"));
  }
  if (auto v = args.Get("--refcount-bits")) {
    QCOW2REF_ASSIGN_OR_RETURN(uint64_t bits, ParseSize(*v, "--refcount-bits"));
    if (bits > 64) return UsageError("--refcount-bits must be 1..64");
    QCOW2REF_ASSIGN_OR_RETURN(o.refcount_order,
                              Log2Of(bits, "--refcount-bits"));
  }
  o.extended_l2 = args.Has("--extended-l2");
  o.lazy_refcounts = args.Has("--lazy-refcounts");
  if (auto v = args.Get("--compression-type")) {
    if (*v != "zlib" && *v != "zstd") {
      return UsageError("--compression-type must be zlib or zstd");
    }
    o.compression_type = *v == "zstd" ? 1 : 0;
  }
  if (auto v = args.Get("--backing")) o.backing_file = *v;
  if (auto v = args.Get("--backing-format")) o.backing_format = *v;
  if (auto v = args.Get("--data-file")) o.data_file = *v;
  o.data_file_raw = args.Has("--data-file-raw");
  if (auto v = args.Get("--encrypt")) {
    if (*v == "none")
      o.encryption = Encryption::kNone;
    else if (*v == "aes")
      o.encryption = Encryption::kAes;
    else if (*v == "luks")
      o.encryption = Encryption::kLuks;
    else
      return UsageError("--encrypt must be none, aes or luks");
  }
  if (auto v = args.Get("--luks-cipher")) o.luks_cipher = *v;
  if (auto v = args.Get("--luks-hash")) o.luks_hash = *v;
  if (auto v = args.Get("--luks-iter-time")) {
    QCOW2REF_ASSIGN_OR_RETURN(uint64_t ms, ParseSize(*v, "--luks-iter-time"));
    o.luks_iter_time_ms = static_cast<uint32_t>(std::min<uint64_t>(ms, 600000));
  }
  if (auto v = args.Get("--luks-iterations")) {
    QCOW2REF_ASSIGN_OR_RETURN(uint64_t n, ParseSize(*v, "--luks-iterations"));
    if (n == 0 || n > UINT32_MAX)
      return UsageError("--luks-iterations out of range");
    o.luks_iterations = static_cast<uint32_t>(n);
  }
  if (auto v = args.Get("--deterministic-seed")) {
    std::vector<uint8_t> seed;
    for (size_t i = 0; i + 1 < v->size(); i += 2) {
      const std::string byte = v->substr(i, 2);
      if (byte.find_first_not_of("0123456789abcdefABCDEF") !=
          std::string::npos) {
        return UsageError("--deterministic-seed must be hex");
      }
      seed.push_back(static_cast<uint8_t>(std::stoi(byte, nullptr, 16)));
    }
    if (seed.empty()) return UsageError("--deterministic-seed must be hex");
    o.deterministic_seed = seed;
    std::fprintf(
        stderr,
        "qcow2ref: warning: --deterministic-seed makes salts, keys and "
        "UUIDs predictable: the image is NOT secure (test vectors "
        "only)\n");
  }
  return o;
}

namespace {

// The files the new image will read: its backing file and, for a qcow2
// backing file, the chain behind it (as far as it opens).
void AddBackingChain(const std::string& directory, const std::string& name,
                     std::set<FileId>* files) {
  ReferenceRequest request;
  request.directory = directory;
  request.name = name;
  const std::string path = ReferencedPath(request);
  if (auto id = IdentityOfPath(path)) files->insert(*id);
  OpenOptions follow;
  follow.follow_references = true;
  auto chain = Image::Open(path, follow);
  if (chain.ok()) {
    const std::set<FileId> more = (*chain)->chain_files();
    files->insert(more.begin(), more.end());
  }
}

}  // namespace

Result<std::unique_ptr<ImageWriter>> CreateImage(
    const std::string& path, const CreateOptions& options,
    const SecretBytes* secret, bool force, const std::set<FileId>& inputs) {
  QCOW2REF_RETURN_IF_ERROR(ValidateCreateOptions(options));
  if (options.encryption != Encryption::kNone && secret == nullptr) {
    return MissingSecretError("Q2.ENC.payload");
  }
  WriterOptions wo;
  wo.secret = secret;
  wo.directory = DirectoryOf(path);
  // SPEC(QX.CLI.output_not_input): every file this command reads (and the
  // image's backing chain) is known before any output is opened; each
  // output is judged by identity before it is truncated.
  std::set<FileId> keep = inputs;
  if (!options.backing_file.empty()) {
    AddBackingChain(wo.directory, options.backing_file, &keep);
  }
  ReferenceRequest data;
  data.directory = wo.directory;
  data.name = options.data_file;
  data.what = "external data file";
  if (!options.data_file.empty()) {
    // The two outputs must differ too.
    const auto target = IdentityOfPath(path);
    if (target && IdentityOfPath(ReferencedPath(data)) == target) {
      return UsageError("QX.CLI.output_not_input",
                        "the external data file " + options.data_file +
                            " is the image " + path + " itself");
    }
  }
  // SPEC(QX.WRITE.validate_first): a create refused after its files were
  // made (a backing name the path policy refuses, a loop, a data file the
  // file system cannot make as large as the disk) leaves neither behind.
  const std::string data_path =
      options.data_file.empty() ? "" : ReferencedPath(data);
  const bool data_existed =
      !data_path.empty() && IdentityOfPath(data_path).has_value();
  auto forget_data_file = [&]() {
    if (!data_path.empty() && !data_existed) ::unlink(data_path.c_str());
  };
  if (!options.data_file.empty()) {
    // An existing data file is never clobbered without --force (R06); it is
    // resolved beneath the image's directory like every referenced file.
    QCOW2REF_ASSIGN_OR_RETURN(wo.data_file,
                              OpenReferencedStore(data, true, force, &keep));
    keep.insert(*wo.data_file->Identity());
  }
  const bool existed = IdentityOfPath(path).has_value();
  auto store = FileStore::Open(path, true, force, &keep);
  if (!store.ok()) {
    forget_data_file();
    return store.take_error();
  }
  auto writer =
      ImageWriter::Create(std::move(store).value(), options, std::move(wo));
  if (!writer.ok()) {
    if (!existed) ::unlink(path.c_str());
    forget_data_file();
  }
  return writer;
}

Result<std::unique_ptr<ImageWriter>> OpenImageForWriting(
    const std::string& path, const SecretBytes* secret, bool allow_any_path) {
  WriterOptions wo;
  wo.secret = secret;
  wo.allow_any_path = allow_any_path;
  wo.directory = DirectoryOf(path);
  QCOW2REF_ASSIGN_OR_RETURN(auto store, FileStore::Open(path, false, false));
  // The data file name comes from the image itself: the one path policy
  // (reference/io/referenced_file.h), as for reading.
  auto probe = Image::OpenSource(std::make_unique<BorrowedSource>(store.get()),
                                 OpenOptions(), nullptr, wo.directory);
  if (!probe.ok()) return probe.take_error();
  const Image& img = **probe;
  if (img.header().has_data_file() && img.extensions().data_file) {
    ReferenceRequest data;
    data.directory = wo.directory;
    data.name = *img.extensions().data_file;
    data.allow_any_path = allow_any_path;
    data.what = "external data file";
    QCOW2REF_ASSIGN_OR_RETURN(wo.data_file,
                              OpenReferencedStore(data, false, false));
    // SPEC(QX.BK.same_file): nothing is written before this is known.
    if (wo.data_file->Identity() == store->Identity()) {
      return Rejected("QX.BK.same_file", std::nullopt,
                      "the external data file '" + data.name +
                          "' is the image itself: writing guest data would "
                          "overwrite its metadata");
    }
  }
  return ImageWriter::Open(std::move(store), std::move(wo));
}

}  // namespace qcow2ref::cli
