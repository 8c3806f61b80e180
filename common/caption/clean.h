/* Caption clean-up, as Open-Sora's datautil does it to VLM output (--refine-llm-caption). */
#ifndef SORA_CAPTION_CLEAN_H
#define SORA_CAPTION_CLEAN_H

/* Returns a malloc'd cleaned copy (NULL when out of memory):
 * 1. whitespace runs (newlines, tabs included) become one space; both ends trimmed;
 * 2. one pair of surrounding quotes ("...", '...', “...”) removed, then trimmed again;
 * 3. the first of Open-Sora's LLaVA prefixes ("The video shows", "In the video,", ...) that starts the
 *    caption, as written or in lower case, removed, the rest trimmed and its first letter capitalised
 *    (datautil's remove_caption_prefix). */
char *sora_caption_clean(const char *in);

#endif
