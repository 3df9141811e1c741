/*
 * Corpus replay driver: runs LLVMFuzzerTestOneInput once for every file
 * named on the command line (directories are walked one level).  Linked
 * into each fuzz target so the corpora are replayed by every test run,
 * including the ASan + UBSan build, without needing clang.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *data;
	long n;

	if (fp == NULL) {
		perror(path);
		return -1;
	}
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	data = malloc(n > 0 ? (size_t)n : 1);
	if (data == NULL || (n > 0 && fread(data, 1, (size_t)n, fp) != (size_t)n)) {
		fclose(fp);
		free(data);
		return -1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(data, (size_t)n);
	free(data);
	return 0;
}

int
main(int argc, char **argv)
{
	int files = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *de;
			char path[4096];

			if (d == NULL)
				return 1;
			while ((de = readdir(d)) != NULL) {
				if (de->d_name[0] == '.')
					continue;
				snprintf(path, sizeof path, "%s/%s", argv[i],
				    de->d_name);
				if (run_file(path) != 0)
					return 1;
				files++;
			}
			closedir(d);
		} else {
			if (run_file(argv[i]) != 0)
				return 1;
			files++;
		}
	}
	printf("replayed %d inputs\n", files);
	return files > 0 ? 0 : 1;
}
