/* ingest_depth.c: where a frame's depth map lives (the capture layout convention; the
 * samples generator writes it, docs/ingest.md). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ingest/ingest.h"

int ingest_depth_path(const char *frame_path, char *out, size_t cap)
{
	if (!frame_path || !out || cap == 0)
		return 0;
	out[0] = '\0';
	const char *slash = strrchr(frame_path, '/');
	const char *name = slash ? slash + 1 : frame_path;
	int dl = slash ? (int)(slash - frame_path) : 1;
	const char *dir = slash ? frame_path : ".";
	const char *dot = strrchr(name, '.');
	int sl = dot ? (int)(dot - name) : (int)strlen(name);
	static const char *sub[] = {".depth", "depth"};
	for (size_t i = 0; i < SVT_ARRAY_LEN(sub); i++) {
		int n = snprintf(out, cap, "%.*s/%s/%.*s.png", dl, dir, sub[i], sl, name);
		if (n < 0 || (size_t)n >= cap) {
			out[0] = '\0';
			continue;
		}
		if (access(out, R_OK) == 0)
			return 1;
	}
	return 0;
}
