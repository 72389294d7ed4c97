/* A libqcow fuzz target that reads the guest data, not only the header.
 *
 * libqcow's own ossfuzz/file_fuzzer.cc (in the Debian source package) opens
 * and closes the image, so nothing past the header and the L1 table is ever
 * parsed. This target also reads bounded windows of the media, which walks
 * L2 tables, compressed clusters and backing/zero logic, where a
 * structure-aware mutator matters. Public libqcow API only: the input goes
 * through a memfd opened by path (/proc/self/fd/N), so no libbfio headers
 * are needed. Written for qcow2ref's fuzzing kit proof (issue #17).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libqcow.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

enum {
  kWindow = 4096,   /* bytes per read */
  kMaxWindows = 64, /* reads per input */
  kStride = 1 << 16 /* one read per 64 KiB of guest data */
};

static int g_fd = -1;
static char g_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t buf[kWindow];
  libqcow_file_t *file = NULL;
  size64_t media = 0;
  if (g_fd < 0) {
    g_fd = memfd_create("qcow2kit", 0);
    if (g_fd < 0) return 0;
    snprintf(g_path, sizeof(g_path), "/proc/self/fd/%d", g_fd);
  }
  if (ftruncate(g_fd, 0) != 0) return 0;
  if (size > 0 && pwrite(g_fd, data, size, 0) != (ssize_t)size) return 0;
  if (libqcow_file_initialize(&file, NULL) != 1) return 0;
  if (libqcow_file_open(file, g_path, LIBQCOW_OPEN_READ, NULL) == 1) {
    if (libqcow_file_get_media_size(file, &media, NULL) == 1 && media > 0) {
      uint64_t off = 0;
      int i;
      for (i = 0; i < kMaxWindows && off < media; ++i, off += kStride) {
        libqcow_file_read_buffer_at_offset(file, buf, kWindow, (off64_t)off,
                                           NULL);
      }
      /* The last window too: partial clusters at the end. */
      if (media > kWindow) {
        libqcow_file_read_buffer_at_offset(file, buf, kWindow,
                                           (off64_t)(media - kWindow), NULL);
      }
    }
    libqcow_file_close(file, NULL);
  }
  libqcow_file_free(&file, NULL);
  return 0;
}
