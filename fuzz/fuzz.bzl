"""qcow2ref_fuzzer: a libFuzzer binary plus a replay test of its inputs."""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_test")

def qcow2ref_fuzzer(name, srcs, deps, corpus = None, extra_corpus = None, mutations = 0):
    """Declares `name` (libFuzzer, --config=fuzz only) and `name_replay_test`.

    Args:
      name: target name; corpus in corpus/<corpus>/, crashes in
        regressions/<name>/, dictionary dicts/, options options/<name>.options.
      srcs: sources defining LLVMFuzzerTestOneInput (and optionally
        LLVMFuzzerCustomMutator).
      deps: libraries.
      corpus: seed corpus directory name under corpus/ (default: name).
      extra_corpus: a second directory under corpus/ replayed with it.
      mutations: custom-mutator rounds per input in the replay test.
    """
    corpus = corpus or name
    corpora = [corpus] + ([extra_corpus] if extra_corpus else [])

    # Built only with --config=fuzz (clang, -fsanitize=fuzzer-no-link):
    # `manual` keeps `bazel build //...` (gcc) away from it.
    cc_binary(
        name = name,
        srcs = srcs,
        linkopts = ["-fsanitize=fuzzer"],
        tags = [
            "fuzzer",
            "manual",
        ],
        deps = deps,
    )

    # The same sources with replay_main.cc: every build config, every
    # `bazel test //...`.
    cc_test(
        name = name + "_replay_test",
        size = "medium",
        srcs = srcs + ["replay_main.cc"],
        args = [
            "--target=" + name,
            "--known_open=fuzz/regressions/known_open.txt",
            "--mutations=%d" % mutations,
        ] + ["fuzz/corpus/" + c for c in corpora] + [
            "fuzz/regressions/" + name,
        ],
        data = native.glob(
            ["corpus/%s/**" % c for c in corpora] + ["regressions/%s/**" % name],
        ) + ["regressions/known_open.txt"],
        deps = deps,
    )
