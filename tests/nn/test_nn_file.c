/* test_nn_file.c - the weight file: a save/load round trip keeps every weight and every
 * generation; a flipped byte, a truncated file, a wrong magic, a future version, an empty
 * or missing file are each refused with a reason, and a save leaves no temporary behind. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/train.h"
#include "nn_check.h"

static char dir[256], path[300], bad_path[300];

static unsigned char *slurp(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	CHECK(f);
	CHECK(fseek(f, 0, SEEK_END) == 0);
	long sz = ftell(f);
	CHECK(sz > 0);
	rewind(f);
	unsigned char *buf = malloc((size_t)sz);
	CHECK(buf && fread(buf, 1, (size_t)sz, f) == (size_t)sz);
	fclose(f);
	*n = (size_t)sz;
	return buf;
}

static void spit(const char *p, const unsigned char *buf, size_t n)
{
	FILE *f = fopen(p, "wb");
	CHECK(f && fwrite(buf, 1, n, f) == n);
	CHECK(fclose(f) == 0);
}

static void expect_invalid(const unsigned char *buf, size_t n, const char *reason)
{
	spit(bad_path, buf, n);
	char why[256] = "";
	struct nn_model *m = NULL;
	int rc = nn_model_load(bad_path, &m, why, sizeof(why));
	printf("%-10s -> %d: %s\n", reason, rc, why);
	CHECK(rc == -EINVAL && m == NULL);
	CHECK(strstr(why, reason) != NULL);
}

static int count_entries(void)
{
	DIR *d = opendir(dir);
	CHECK(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void compare_generations(const struct nn_model *a, const struct nn_model *b)
{
	static const char *inputs[] = {"1", "twenty two", "", "a longer input of text"};
	for (size_t i = 0; i < 4; i++) {
		for (int sampled = 0; sampled < 2; sampled++) {
			struct nn_sampling s = {sampled ? 0.9 : 0, 0.9, 20, 40, 77};
			char *x, *y;
			size_t lx, ly;
			CHECK(nn_generate(a, inputs[i], strlen(inputs[i]), &s, &x, &lx, NULL) == 0);
			CHECK(nn_generate(b, inputs[i], strlen(inputs[i]), &s, &y, &ly, NULL) == 0);
			CHECK(lx == ly && memcmp(x, y, lx) == 0);
			free(x);
			free(y);
		}
	}
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_nn_file.XXXXXX");
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/weights.bin", dir);
	snprintf(bad_path, sizeof(bad_path), "%s/bad.bin", dir);

	static const struct nn_example ex[3] = {
	    {"1", 1, "2", 1}, {"twenty two", 10, "twenty three", 12}, {"8", 1, "9", 1}};
	struct srv_train_params p = {10, 2, 0.003, 9};
	struct nn_model *m, *back;
	CHECK(srv_train_run(ex, 3, &p, NULL, NULL, &m) == 0);
	CHECK(nn_model_save(m, path) == 0);
	CHECK(nn_model_save(m, path) == 0); /* replacing an existing file */
	CHECK(count_entries() == 1);
	char why[256] = "";
	CHECK(nn_model_load(path, &back, why, sizeof(why)) == 0);
	size_t n = nn_param_count(m);
	CHECK(nn_param_count(back) == n);
	CHECK(memcmp(nn_param(m, 0), nn_param(back, 0), n * sizeof(float)) == 0);
	compare_generations(m, back);
	nn_model_free(back);

	size_t size;
	unsigned char *good = slurp(path, &size), *buf = malloc(size);
	CHECK(buf);
	memcpy(buf, good, size);
	buf[size / 2] ^= 0x10;
	expect_invalid(buf, size, "checksum");
	memcpy(buf, good, size);
	buf[size - 1] ^= 0x01; /* the checksum itself */
	expect_invalid(buf, size, "checksum");
	expect_invalid(good, size - 1000, "truncated");
	expect_invalid(good, 20, "truncated");
	expect_invalid(good, 0, "truncated");
	memcpy(buf, good, size);
	buf[0] = 'X';
	expect_invalid(buf, size, "magic");
	memcpy(buf, good, size);
	buf[8] = 2; /* version 2 */
	expect_invalid(buf, size, "version");
	memcpy(buf, good, size);
	buf[12 + 4] = 0xff; /* d_model */
	expect_invalid(buf, size, "shape");

	struct nn_model *none = NULL;
	char missing[320];
	snprintf(missing, sizeof(missing), "%s/missing.bin", dir);
	CHECK(nn_model_load(missing, &none, why, sizeof(why)) == -ENOENT && none == NULL);
	CHECK(nn_model_load(dir, &none, why, sizeof(why)) == -EINVAL);
	char nodir[320];
	snprintf(nodir, sizeof(nodir), "%s/no/such/dir/w.bin", dir);
	CHECK(nn_model_save(m, nodir) == -ENOENT);

	free(buf);
	free(good);
	nn_model_free(m);
	unlink(path);
	unlink(bad_path);
	CHECK(rmdir(dir) == 0);
	printf("ok\n");
	return 0;
}
