/* twin_caption.c: a clip's caption from its metadata (where, which way, when, how far): the
 * text the shards carry for text-conditioned training (docs/schema.md). */
#include <math.h>
#include <stdio.h>

#include "twin/twin.h"

const char *twin_caption_cardinal(double h)
{
	static const char *names[] = {"north", "northeast", "east", "southeast",
				      "south", "southwest", "west", "northwest"};
	if (!isfinite(h))
		return "north";
	double a = fmod(h + 22.5, 360.0);
	if (a < 0)
		a += 360.0;
	return names[(int)floor(a / 45.0) % 8];
}

const char *twin_caption_time_of_day(int64_t time_us, int tz_min)
{
	int64_t s = time_us / 1000000 + (int64_t)tz_min * 60;
	int hour = (int)(((s % 86400) + 86400) % 86400 / 3600);
	if (hour < 5)
		return "at night";
	if (hour < 12)
		return "in the morning";
	if (hour < 17)
		return "in the afternoon";
	if (hour < 20)
		return "in the evening";
	return "at night";
}

int twin_clip_caption(const twin_caption_in *in, char *out, size_t cap)
{
	/* The circular mean: headings either side of north average to north, not south. */
	double se = 0, sn = 0;
	for (int t = 0; t < in->n; t++) {
		se += sin(in->heading[t] * M_PI / 180.0);
		sn += cos(in->heading[t] * M_PI / 180.0);
	}
	const char *district = in->district ? in->district : "";
	const char *dong = in->dong ? in->dong : "";
	const char *region = in->region ? in->region : "";
	/* The place is what the layers name, nothing assumed: a capture outside the layers (or
	 * without any) gets no place rather than a city it may not be in. */
	char place[240] = "";
	size_t pl = 0;
	const char *parts[3] = {dong, district, region};
	for (int i = 0; i < 3; i++)
		if (*parts[i] && pl < sizeof(place))
			pl += (size_t)snprintf(place + pl, sizeof(place) - pl, "%s%s",
					       pl ? ", " : " through ", parts[i]);
	/* Walk or drive from the speed: a pedestrian's pace stays under 2.5 m/s (9 km/h). */
	const char *kind = "sequence";
	if (in->span_s > 0 && in->dist_m >= 0)
		kind = in->dist_m / in->span_s < TWIN_CAPTION_WALK_MAX_MPS ? "walk" : "drive";
	return snprintf(out, cap,
			"A street-level %s heading %s%s %s, seen from a forward-facing camera, "
			"%.0f m in %.0f s.",
			kind, twin_caption_cardinal(atan2(se, sn) * 180.0 / M_PI), place,
			twin_caption_time_of_day(in->time_us, in->tz_offset_min), in->dist_m,
			in->span_s);
}
