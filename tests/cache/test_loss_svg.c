/* test_loss_svg.c - unit tests of cache/loss_svg.c: no snapshots, one point per snapshot in
 * order with the loss mapped linearly, epoch marks (thinned), title and escaping, one
 * snapshot and non-finite losses without NaN coordinates. The XML itself is parsed by the
 * mount tests (tests/fs/test_log_svg.py). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/loss_svg.h"
#include "../check.h"

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* The polyline's points into x[], y[]; their number. */
static size_t points(const char *svg, double *x, double *y, size_t cap)
{
	const char *p = strstr(svg, "points=\"");
	size_t n = 0;
	int used;

	if (!p)
		return 0;
	p += 8;
	while (n < cap && sscanf(p, "%lf,%lf%n", &x[n], &y[n], &used) == 2) {
		n++;
		p += used;
	}
	return n;
}

static void test_none(void)
{
	char *out = NULL;
	size_t len = 0;

	CHECK_INT(loss_svg_render("m", "CREATING", NULL, 0, &out, &len), -ENODATA);
	CHECK(out == NULL);
}

static void test_curve(void)
{
	struct tuning_snapshot s[6] = {
	    {1, 1, 2.0, 0, 0, 0},  {2, 1, 1.5, 0, 0, 0}, {3, 2, 1.0, 0, 0, 0},
	    {4, 2, 0.75, 0, 0, 0}, {5, 3, 0.5, 0, 0, 0}, {6, 3, 0.25, 0, 0, 0},
	};
	double x[10], y[10];
	char *out = NULL;
	size_t len = 0, n;

	CHECK_INT(loss_svg_render("a<b&c", "ACTIVE", s, 6, &out, &len), 0);
	CHECK_INT(len, strlen(out));
	CHECK(strncmp(out, "<?xml", 5) == 0);
	CHECK(strstr(out, "</svg>\n") && strcmp(strstr(out, "</svg>\n"), "</svg>\n") == 0);
	CHECK(strstr(out, "<title>a&lt;b&amp;c: ACTIVE, final loss 0.250000 at step 6 (epoch "
			  "3)</title>") != NULL);
	CHECK(!strstr(out, "a<b"));
	CHECK(strstr(out, ">step</text>") && strstr(out, ">mean loss</text>"));
	CHECK(strstr(out, "epoch 1</text>") && strstr(out, "epoch 2</text>") &&
	      strstr(out, "epoch 3</text>"));
	CHECK_INT(count(out, "<circle"), 6);
	CHECK(strstr(out, "<title>step 4 epoch 2 loss 0.750000</title>") != NULL);
	n = points(out, x, y, 10);
	CHECK_INT(n, 6);
	for (size_t i = 1; i < n; i++) {
		/* steps left to right, loss down the page linearly: equal slopes */
		CHECK(x[i] > x[i - 1]);
		CHECK(fabs((y[i] - y[0]) / (s[i].mean_loss - s[0].mean_loss) -
			   (y[n - 1] - y[0]) / (s[n - 1].mean_loss - s[0].mean_loss)) < 0.05);
		CHECK(y[i] > y[i - 1]); /* a smaller loss is drawn lower on the page */
	}
	for (size_t i = 0; i < n; i++)
		CHECK(x[i] >= 0 && x[i] <= LOSS_SVG_WIDTH && y[i] >= 0 && y[i] <= LOSS_SVG_HEIGHT);
	free(out);
}

static void test_one_and_nan(void)
{
	struct tuning_snapshot one = {7, 1, 0.5, 0, 0, 0};
	struct tuning_snapshot odd[3] = {
	    {1, 1, NAN, 0, 0, 0}, {2, 1, 1.0, 0, 0, 0}, {3, 1, INFINITY, 0, 0, 0}};
	double x[4], y[4];
	char *out = NULL;
	size_t len;

	CHECK_INT(loss_svg_render("m", "CREATING", &one, 1, &out, &len), 0);
	CHECK_INT(points(out, x, y, 4), 1);
	CHECK(!strstr(out, "nan") && !strstr(out, "inf"));
	free(out);
	CHECK_INT(loss_svg_render("m", "FAILED", odd, 3, &out, &len), 0);
	CHECK_INT(points(out, x, y, 4), 1); /* only the finite one */
	CHECK_INT(count(out, "<circle"), 1);
	free(out);
}

static void test_many_epochs(void)
{
	enum { N = 900 };
	struct tuning_snapshot *s = calloc(N, sizeof *s);
	char *out = NULL;
	size_t len, marks;

	for (int i = 0; i < N; i++)
		s[i] = (struct tuning_snapshot){i + 1, i / 3 + 1, 3.0 / (i + 1), 0, 0, 0};
	CHECK_INT(loss_svg_render("long", "ACTIVE", s, N, &out, &len), 0);
	marks = count(out, "stroke-dasharray");
	CHECK(marks >= 10 && marks <= 12); /* 300 epochs, a dozen marks */
	CHECK_INT(count(out, "<circle"), N);
	free(out);
	free(s);
}

int main(void)
{
	test_none();
	test_curve();
	test_one_and_nan();
	test_many_epochs();
	return check_exit("loss_svg");
}
