/* loss_svg.c - progress.svg's text: the mean loss per step as a polyline over ticked,
 * labelled axes, epoch ends as dashed lines, model, state and final loss in the title.
 * Pure: snapshots in, SVG out; nothing here knows files, models or locks. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/dynbuf.h"
#include "cache/loss_svg.h"

#define LEFT		80.0
#define RIGHT		24.0
#define TOP		56.0
#define BOTTOM		56.0
#define PLOT_W		(LOSS_SVG_WIDTH - LEFT - RIGHT)
#define PLOT_H		(LOSS_SVG_HEIGHT - TOP - BOTTOM)
#define MAX_EPOCH_MARKS 12

/* One axis: its range and the distance between its ticks. */
struct axis {
	double lo, hi, tick;
};

/* 1, 2 or 5 times a power of ten: about want ticks over span. */
static double nice_tick(double span, int want)
{
	double raw = span / want, p = pow(10, floor(log10(raw))), f = raw / p;

	return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

/* An axis over [min, max] whose ends fall on ticks; integral ticks when whole. */
static struct axis axis_of(double min, double max, int whole)
{
	struct axis a;

	if (!(max > min)) { /* one value: a band around it */
		double pad = whole ? 1 : (fabs(min) > 0 ? fabs(min) * 0.1 : 0.5);
		min -= pad;
		max += pad;
	}
	a.tick = nice_tick(max - min, 5);
	if (whole && a.tick < 1)
		a.tick = 1;
	a.lo = floor(min / a.tick) * a.tick;
	a.hi = ceil(max / a.tick) * a.tick;
	if (whole && min >= 0 && a.lo < 0)
		a.lo = 0;
	return a;
}

static double px(const struct axis *x, double v)
{
	return LEFT + (v - x->lo) / (x->hi - x->lo) * PLOT_W;
}

static double py(const struct axis *y, double v)
{
	return TOP + (y->hi - v) / (y->hi - y->lo) * PLOT_H;
}

static void put_escaped(struct dynbuf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			dynbuf_puts(b, "&lt;");
			break;
		case '>':
			dynbuf_puts(b, "&gt;");
			break;
		case '&':
			dynbuf_puts(b, "&amp;");
			break;
		case '"':
			dynbuf_puts(b, "&quot;");
			break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				dynbuf_append(b, s, 1);
		}
	}
}

static void put_ticks(struct dynbuf *b, const struct axis *x, const struct axis *y)
{
	dynbuf_puts(b, "<g class=\"ticks\" font-size=\"12\" fill=\"#333\">\n");
	for (double v = x->lo; v <= x->hi + x->tick / 2; v += x->tick) {
		double at = px(x, v);
		dynbuf_printf(
		    b,
		    "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#333\"/>"
		    "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%g</text>\n",
		    at, TOP + PLOT_H, at, TOP + PLOT_H + 5, at, TOP + PLOT_H + 19,
		    fabs(v) < x->tick / 1e6 ? 0 : v);
	}
	for (double v = y->lo; v <= y->hi + y->tick / 2; v += y->tick) {
		double at = py(y, v);
		dynbuf_printf(
		    b,
		    "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#ddd\"/>"
		    "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%g</text>\n",
		    LEFT, at, LEFT + PLOT_W, at, LEFT - 6, at + 4, fabs(v) < y->tick / 1e6 ? 0 : v);
	}
	dynbuf_puts(b, "</g>\n");
}

static void put_axes(struct dynbuf *b, const struct axis *x, const struct axis *y)
{
	put_ticks(b, x, y);
	dynbuf_printf(b,
		      "<path class=\"axes\" d=\"M%.2f %.2fV%.2fH%.2f\" fill=\"none\" "
		      "stroke=\"#333\"/>\n",
		      LEFT, TOP, TOP + PLOT_H, LEFT + PLOT_W);
	dynbuf_printf(b,
		      "<text class=\"xlabel\" x=\"%.2f\" y=\"%.2f\" font-size=\"13\" "
		      "text-anchor=\"middle\">step</text>\n",
		      LEFT + PLOT_W / 2, (double)LOSS_SVG_HEIGHT - 12);
	dynbuf_printf(b,
		      "<text class=\"ylabel\" x=\"18\" y=\"%.2f\" font-size=\"13\" "
		      "text-anchor=\"middle\" transform=\"rotate(-90 18 %.2f)\">mean loss</text>\n",
		      TOP + PLOT_H / 2, TOP + PLOT_H / 2);
}

/* A dashed line at the last step of each epoch, at most MAX_EPOCH_MARKS labelled. */
static void put_epochs(struct dynbuf *b, const struct axis *x, const struct tuning_snapshot *s,
		       size_t n)
{
	size_t ends = 0, every, k = 0;

	for (size_t i = 0; i < n; i++)
		ends += i + 1 == n || s[i + 1].epoch != s[i].epoch;
	every = (ends + MAX_EPOCH_MARKS - 1) / MAX_EPOCH_MARKS;
	dynbuf_puts(b, "<g class=\"epochs\" font-size=\"11\" fill=\"#777\">\n");
	for (size_t i = 0; i < n; i++) {
		double at = px(x, s[i].step);
		if (!(i + 1 == n || s[i + 1].epoch != s[i].epoch) || k++ % every != 0)
			continue;
		dynbuf_printf(
		    b,
		    "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#aaa\" "
		    "stroke-dasharray=\"4 3\"/>"
		    "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">epoch %d</text>\n",
		    at, TOP, at, TOP + PLOT_H, at, TOP - 5, s[i].epoch);
	}
	dynbuf_puts(b, "</g>\n");
}

static void put_curve(struct dynbuf *b, const struct axis *x, const struct axis *y,
		      const struct tuning_snapshot *s, size_t n)
{
	dynbuf_puts(b, "<polyline class=\"loss\" fill=\"none\" stroke=\"#1f6fb4\" "
		       "stroke-width=\"2\" stroke-linejoin=\"round\" points=\"");
	for (size_t i = 0, first = 1; i < n; i++) {
		if (!isfinite(s[i].mean_loss))
			continue;
		dynbuf_printf(b, "%s%.2f,%.2f", first ? "" : " ", px(x, s[i].step),
			      py(y, s[i].mean_loss));
		first = 0;
	}
	dynbuf_puts(b, "\"/>\n<g class=\"points\" fill=\"#1f6fb4\">\n");
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(s[i].mean_loss))
			continue;
		dynbuf_printf(b,
			      "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2\"><title>step %d epoch %d "
			      "loss %.6f</title></circle>\n",
			      px(x, s[i].step), py(y, s[i].mean_loss), s[i].step, s[i].epoch,
			      s[i].mean_loss);
	}
	dynbuf_puts(b, "</g>\n");
}

static void put_title(struct dynbuf *b, const char *id, const char *state,
		      const struct tuning_snapshot *last)
{
	struct dynbuf t = DYNBUF_INIT;

	put_escaped(&t, id);
	dynbuf_puts(&t, ": ");
	put_escaped(&t, state);
	dynbuf_printf(&t, ", final loss %.6f at step %d (epoch %d)", last->mean_loss, last->step,
		      last->epoch);
	dynbuf_printf(b,
		      "<title>%s</title>\n<text class=\"title\" x=\"%.2f\" y=\"24\" "
		      "font-size=\"15\" text-anchor=\"middle\">%s</text>\n",
		      t.data, LOSS_SVG_WIDTH / 2.0, t.data);
	dynbuf_free(&t);
}

int loss_svg_render(const char *id, const char *state, const struct tuning_snapshot *s, size_t n,
		    char **out, size_t *len)
{
	struct dynbuf b = DYNBUF_INIT;
	double lmin = INFINITY, lmax = -INFINITY, smin = INFINITY, smax = -INFINITY;
	struct axis x, y;

	if (n == 0)
		return -ENODATA;
	for (size_t i = 0; i < n; i++) {
		smin = fmin(smin, s[i].step);
		smax = fmax(smax, s[i].step);
		if (isfinite(s[i].mean_loss)) {
			lmin = fmin(lmin, s[i].mean_loss);
			lmax = fmax(lmax, s[i].mean_loss);
		}
	}
	if (!isfinite(lmin))
		lmin = lmax = 0; /* no finite loss: the axes alone */
	x = axis_of(smin, smax, 1);
	y = axis_of(lmin, lmax, 0);
	dynbuf_printf(&b,
		      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		      "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
		      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		      LOSS_SVG_WIDTH, LOSS_SVG_HEIGHT, LOSS_SVG_WIDTH, LOSS_SVG_HEIGHT);
	put_title(&b, id, state, &s[n - 1]);
	put_axes(&b, &x, &y);
	put_epochs(&b, &x, s, n);
	put_curve(&b, &x, &y, s, n);
	dynbuf_puts(&b, "</svg>\n");
	*out = dynbuf_take(&b, len);
	return 0;
}
