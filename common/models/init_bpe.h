/* A byte-level BPE vocabulary in CLIP's layout, learned from a few sentences, for the tiny CLIP tokenizers
 * of test and demo models (common/models/tokenizer_clip.h loads it).
 *
 * Layout, as openai/clip-vit-large-patch14's: ids 0..255 are the 256 bytes through GPT-2's
 * bytes_to_unicode (printable bytes first), 256..511 the same with "</w>" (end of word), then one id per
 * merge in merge order, then <|startoftext|> = 49406 and <|endoftext|> = 49407 (the ids the CLIP
 * tokenizer and Open-Sora's pooling rely on); ids between the last merge and 49406 are unused. */
#ifndef SORA_INIT_BPE_H
#define SORA_INIT_BPE_H

#include "../util/err.h"

/* Learns up to max_merges merges from the sentences (lower-cased and split into words as CLIP does for
 * ASCII text: letter runs, single digits, runs of other non-space characters); the most frequent pair
 * first, ties to the smaller pair in byte order; stops early when no pair occurs twice. Writes
 * DIR/vocab.json and DIR/merges.txt. *merges_out is the number learned. */
int sora_bpe_write(const char *const *sentences, int n, int max_merges, const char *dir, int *merges_out,
		   sora_err *e);

#endif
