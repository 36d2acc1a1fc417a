/* Runs every file under the directories given through the harness it is
 * linked with: how `make test` replays the fuzz corpus with the ordinary
 * sanitizer build, no libFuzzer needed. A crash, a sanitizer report or a
 * leak ends the process with a non-zero status naming the file. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int replay_file(const char *path) {
  FILE *file = fopen(path, "rb");
  unsigned char *data = NULL;
  long size;
  int rc = -1;

  if (file == NULL || fseek(file, 0, SEEK_END) != 0 || (size = ftell(file)) < 0 ||
      fseek(file, 0, SEEK_SET) != 0) {
    goto out;
  }
  /* An exact-size heap copy: ASan catches a read past the input. */
  data = malloc(size > 0 ? (size_t)size : 1);
  if (data == NULL || fread(data, 1, (size_t)size, file) != (size_t)size) {
    goto out;
  }
  fprintf(stderr, "fuzz-replay: %s\n", path);
  LLVMFuzzerTestOneInput(data, (size_t)size);
  rc = 0;

out:
  free(data);
  if (file != NULL) {
    fclose(file);
  }
  return rc;
}

int main(int argc, char **argv) {
  int passed = 0;
  int failed = 0;

  for (int i = 1; i < argc; i++) {
    DIR *dir = opendir(argv[i]);
    struct dirent *entry;
    if (dir == NULL) {
      fprintf(stderr, "fuzz-replay: cannot open %s\n", argv[i]);
      failed++;
      continue;
    }
    while ((entry = readdir(dir)) != NULL) {
      char path[4096];
      if (entry->d_name[0] == '.') {
        continue;
      }
      snprintf(path, sizeof(path), "%s/%s", argv[i], entry->d_name);
      if (replay_file(path) == 0) {
        passed++;
      } else {
        fprintf(stderr, "fuzz-replay: cannot read %s\n", path);
        failed++;
      }
    }
    closedir(dir);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
