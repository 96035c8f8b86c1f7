/* loss_svg.h - a tuning's loss curve as a plain SVG picture (progress.svg): a pure function
 * from the snapshots to text. No I/O, no model table, no plotting library; what the mount
 * shows and when is fs/'s business. */
#ifndef TUNEDFS_LOSS_SVG_H
#define TUNEDFS_LOSS_SVG_H

#include <stddef.h>

#include "api/backend.h"

/* The picture's size in pixels. */
#define LOSS_SVG_WIDTH	720
#define LOSS_SVG_HEIGHT 420

/* The curve of s[0..n) (mean loss per step, oldest first) with its epochs marked, axes
 * labelled with ticks, and a title naming the model id, its state and the final loss.
 * One polyline point (and one dot with a tooltip) per snapshot with a finite loss, in the
 * order given. 0 and heap text in *out (*len bytes), -ENODATA when n is 0. */
int loss_svg_render(const char *id, const char *state, const struct tuning_snapshot *s, size_t n,
		    char **out, size_t *len);

#endif
